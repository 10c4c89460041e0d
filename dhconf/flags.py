"""Edit the daemon's options in an argument list: host flags and TLS flags, everything else kept."""

from __future__ import annotations

from collections.abc import Sequence

from dhconf.hosts import Host, find_host_flags, replace_host_flags

# dockerd's TLS options: the two booleans take an optional =VALUE, the files a value.
_TLS_BOOLEANS = ("--tls", "--tlsverify")
_TLS_FILES = ("--tlscacert", "--tlscert", "--tlskey")
INSECURE_OPT_OUT = "--tls=false"


def strip_tls_flags(argv: Sequence[str]) -> list[str]:
    """Return ``argv`` without --tls, --tlsverify, --tlscacert, --tlscert and --tlskey."""
    result: list[str] = []
    skip_next = False
    for word in argv:
        if skip_next:
            skip_next = False
            continue
        name = word.partition("=")[0]
        if name in _TLS_BOOLEANS:
            continue
        if name in _TLS_FILES:
            skip_next = "=" not in word
            continue
        result.append(word)
    return result


def has_tls_flags(argv: Sequence[str]) -> bool:
    return any(word.partition("=")[0] in _TLS_BOOLEANS + _TLS_FILES for word in argv)


def edit_options(
    argv: Sequence[str],
    hosts: Sequence[Host],
    *,
    after: int,
    tls_flags: Sequence[str] | None = None,
) -> list[str]:
    """Replace the host flags in ``argv`` with ``hosts``; with ``tls_flags``, replace the TLS flags too.

    Hosts go where the first host flag was, or at ``after`` (the index of the
    first option after the command form) when there was none. TLS flags follow
    the last host flag.
    """
    if _same_hosts(argv, hosts):
        # Keep the admin's spelling (-H=x, --host x) when the hosts are already these.
        edited = list(argv)
    else:
        edited = replace_host_flags(argv, hosts, after=after)
    if tls_flags is None:
        return edited
    edited = strip_tls_flags(edited)
    flags = find_host_flags(edited)
    position = flags[-1].index + flags[-1].length if flags else min(after, len(edited))
    return edited[:position] + list(tls_flags) + edited[position:]


def _same_hosts(argv: Sequence[str], hosts: Sequence[Host]) -> bool:
    """Return whether the host flags of ``argv`` name exactly ``hosts``, in order, once each."""
    from dhconf.errors import InvalidHost
    from dhconf.hosts import parse_host

    values = host_flag_words(argv)
    if len(values) != len(find_host_flags(argv)):
        return False
    try:
        return [parse_host(value) for value in values] == list(hosts)
    except InvalidHost:
        return False


def host_flag_words(argv: Sequence[str]) -> list[str]:
    """Return the host values of ``argv`` in order (None values skipped)."""
    return [flag.value for flag in find_host_flags(argv) if flag.value is not None]
