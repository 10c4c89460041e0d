"""The Host value: one dockerd ``-H``/``--host`` binding, parsed as dockerd parses it.

The rules follow ``ParseDaemonHost`` and ``ParseTCPAddr`` in moby
daemon/pkg/opts/hosts.go (dockerd 23.0 and later). dhconf is stricter where
dockerd accepts a value that fails later or silently means something else.
It rejects an unbracketed IPv6 address, and user information, a query or a
fragment in a TCP address. It also rejects a port above 65535, a relative
unix socket path, ``fd://`` followed by anything but ``*`` or a number, and a
blank value. Every accepted host is one plain word in a file that ``/bin/sh``
sources and in a systemd ``ExecStart=`` line, so it needs no quoting there.

This module also finds and replaces the ``-H`` flags in a dockerd command line.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dhconf.errors import InvalidHost

DEFAULT_UNIX_SOCKET = "/var/run/docker.sock"
DEFAULT_TCP_HOST = "localhost"
DEFAULT_TCP_PORT = 2375

# Characters that /bin/sh or a systemd ExecStart line would treat specially
# (quoting, expansion, globbing, specifiers, comments, command separators).
_SHELL_SPECIAL = frozenset("'\"$`;\\#%&|<>()*?[]!{}")
# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
_DIGITS = re.compile(r"[0-9]+")
# Linux's sun_path is 108 bytes long, and Go's syscall.SockaddrUnix (syscall_linux.go)
# rejects a non-abstract path that fills it, so 107 bytes is the longest that binds.
_MAX_UNIX_PATH_BYTES = 107
# systemd passes socket-activated file descriptors from 3 up (SD_LISTEN_FDS_START).
_FIRST_ACTIVATED_FD = 3
_EXAMPLE_HOSTS = "unix:///var/run/docker.sock, tcp://127.0.0.1:2375 or fd://"


@dataclass(frozen=True, order=True)
class Host:
    """One normalized dockerd binding; build it with ``parse_host``.

    ``address`` is ``host:port`` as Go's ``net.JoinHostPort`` writes it (IPv6 in
    brackets) for tcp, the socket path for unix, and ``""``, ``"*"`` or a file
    descriptor number for fd. Sorting by (proto, address) gives the same order
    as dockerd 23.0+ sorting the URL strings.
    """

    proto: str
    address: str

    def __str__(self) -> str:
        return f"{self.proto}://{self.address}"

    @property
    def is_tcp(self) -> bool:
        return self.proto == "tcp"

    @property
    def is_unix(self) -> bool:
        return self.proto == "unix"

    @property
    def is_fd(self) -> bool:
        return self.proto == "fd"

    @property
    def host(self) -> str:
        """TCP host name or IP address, without the IPv6 brackets."""
        host, _, _ = self._split_tcp()
        if host.startswith("["):
            return host[1:-1]
        return host

    @property
    def port(self) -> int:
        """TCP port number."""
        _, _, port = self._split_tcp()
        return int(port)

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can connect: always for unix and fd.

        A tcp host is loopback when it is the literal ``localhost`` or an IP
        address in 127.0.0.0/8 or ``::1`` (also IPv4-mapped, as Go's
        ``IP.IsLoopback`` counts it). No name is resolved, so any other
        hostname counts as reachable from outside.
        """
        if not self.is_tcp:
            return True
        if self.host == DEFAULT_TCP_HOST:
            return True
        address = _ip_address(self.host)
        return address is not None and address.is_loopback

    @property
    def is_wildcard(self) -> bool:
        """Whether this is tcp on the any-address, ``0.0.0.0`` or ``::``."""
        if not self.is_tcp:
            return False
        address = _ip_address(self.host)
        return address is not None and address.is_unspecified

    def _split_tcp(self) -> tuple[str, str, str]:
        if not self.is_tcp:
            raise ValueError(f"{str(self)!r} is not a TCP address, so it has no host or port")
        return self.address.rpartition(":")


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse an IP literal, unwrapping an IPv4-mapped IPv6 address as Go's net.IP does."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_host(text: str) -> Host:
    """Parse one ``-H`` value into a normalized ``Host``.

    Raises ``InvalidHost`` for anything dockerd rejects and for the values that
    dhconf rejects on top of that (see the module docstring).
    """
    if not text.strip():
        raise _invalid(
            text,
            f"the value is empty; give a host such as {_EXAMPLE_HOSTS}, "
            "or omit the -H flag for dockerd's default",
        )
    _check_invisible_characters(text)

    proto, separator, rest = text.partition("://")
    if not separator:
        # dockerd reads a value without "://" as a bare TCP address.
        proto, rest = "tcp", text
    if proto == "tcp":
        _check_tcp_url_parts(text, rest)
    _check_shell_special_characters(text, proto)

    if proto == "tcp":
        return _parse_tcp(text, rest)
    if proto == "unix":
        return _parse_unix(text, rest)
    if proto == "fd":
        return _parse_fd(text, rest)
    raise _invalid(text, _unsupported_proto_reason(proto))


def parse_hosts(values: Iterable[str]) -> list[Host]:
    """Parse every value and drop duplicates after normalization, keeping the first order."""
    return list(dict.fromkeys(parse_host(value) for value in values))


def _invalid(text: str, reason: str) -> InvalidHost:
    return InvalidHost(f"invalid host {text!r}: {reason}", value=text)


def _suggestion(candidate: str) -> str:
    """Return "use CANDIDATE" (normalized) when the candidate parses, else a generic example."""
    try:
        return f"use {parse_host(candidate)}"
    except InvalidHost:
        return f"use a host such as {_EXAMPLE_HOSTS}"


def _check_invisible_characters(text: str) -> None:
    for character in text:
        if character.isspace():
            kind = "whitespace character"
        elif unicodedata.category(character).startswith("C"):
            kind = "control or invisible character"
        else:
            continue
        raise _invalid(
            text,
            f"the {kind} {character!r} is not allowed, because the host must stay one word "
            "in /bin/sh and in a systemd ExecStart line; remove it",
        )


def _check_shell_special_characters(text: str, proto: str) -> None:
    for character in text:
        if character not in _SHELL_SPECIAL:
            continue
        if character == "*" and text == "fd://*":
            # Accepted on input only: _parse_fd normalizes it to fd://, because
            # unquoted in /bin/sh fd://* is a glob, and both mean every passed socket.
            continue
        if character in "[]%" and proto == "tcp":
            # _parse_tcp accepts brackets only around an IPv6 literal and
            # rejects every '%' with a message about IPv6 zones or the hostname.
            continue
        raise _invalid(
            text,
            f"the character {character!r} is not allowed, because /bin/sh or a systemd "
            "ExecStart line would read it as syntax; remove it",
        )


def _check_tcp_url_parts(text: str, rest: str) -> None:
    """Reject the URL parts that dockerd either rejects or that Go's url.Parse drops silently."""
    if "://" in rest:
        raise _invalid(text, "the address contains a second '://'; give one host per -H flag")

    if "#" in rest:
        problem = "a fragment ('#...'), which dockerd drops silently"
    elif "?" in rest:
        problem = "a query ('?...'), which dockerd drops silently"
    elif "/" in rest:
        problem = "a path"
    elif "@" in rest:
        problem = "user information ('...@'), which dockerd drops silently"
    else:
        return
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host_port = authority.rpartition("@")[2]
    fix = _suggestion(f"tcp://{host_port}")
    raise _invalid(text, f"a TCP address must not contain {problem}; {fix}")


def _parse_tcp(text: str, authority: str) -> Host:
    if authority.startswith("["):
        host, port_text = _split_bracketed(text, authority)
    elif "[" in authority or "]" in authority:
        raise _invalid(
            text, "brackets may only enclose an IPv6 address at the start, as in tcp://[::1]:2375"
        )
    elif authority.count(":") > 1:
        raise _invalid(text, "put IPv6 addresses in brackets: tcp://[::1]:2375")
    else:
        host, _, port_text = authority.partition(":")
        _check_hostname(text, host)
        host = host or DEFAULT_TCP_HOST

    port = _parse_port(text, port_text)
    return Host("tcp", f"{host}:{port}")


def _split_bracketed(text: str, authority: str) -> tuple[str, str]:
    """Split ``[IPv6]`` or ``[IPv6]:port``, returning the bracketed host and the port text."""
    inner, closed, after = authority[1:].partition("]")
    if not closed:
        raise _invalid(
            text, "the '[' of the IPv6 address has no closing ']'; write it as tcp://[::1]:2375"
        )
    if after and not after.startswith(":"):
        raise _invalid(
            text, f"unexpected text {after!r} after the IPv6 address; write it as tcp://[::1]:2375"
        )
    if "%" in inner:
        raise _invalid(
            text, "IPv6 zones ('%...') are not supported; bind to an address without a zone"
        )
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        if _ip_address(inner) is not None:
            fix = _suggestion(f"tcp://{inner}{after}")
            raise _invalid(text, f"brackets are only for IPv6 addresses; {fix}") from None
        raise _invalid(
            text, f"{inner!r} is not a valid IPv6 address; write it as tcp://[::1]:2375"
        ) from None
    return f"[{inner}]", after[1:]


def _check_hostname(text: str, host: str) -> None:
    if not host:
        return
    if not _HOSTNAME.fullmatch(host):
        raise _invalid(
            text,
            f"the hostname {host!r} is not valid, because a hostname may contain only "
            "letters, digits, '-' and '.', in labels that do not start or end with '-'; "
            "use a hostname or an IP address such as 127.0.0.1",
        )
    # glibc's getaddrinfo reads "2375" or "127.1" as IPv4 shorthand (inet_aton), so such a
    # host is not what it looks like.
    if re.fullmatch(r"[0-9.]+", host) and _ip_address(host) is None:
        raise _invalid(
            text,
            f"{host!r} is not a valid IPv4 address; write four decimal numbers such as 127.0.0.1, "
            f"or ':{host}' if you meant a port",
        )


def _parse_port(text: str, port_text: str) -> int:
    if not port_text:
        return DEFAULT_TCP_PORT
    if _DIGITS.fullmatch(port_text) and 1 <= int(port_text) <= 65535:
        # NOTE: dockerd keeps leading zeros ("02375"), but dhconf writes the number they stand for.
        return int(port_text)
    raise _invalid(
        text, f"the port {port_text!r} is not a number from 1 to 65535; use a port such as 2375"
    )


def _parse_unix(text: str, path: str) -> Host:
    if "://" in path:
        raise _invalid(
            text,
            f"invalid unix address {path!r}; give one socket path per -H flag, "
            "as in unix:///run/docker.sock",
        )
    if not path:
        return Host("unix", DEFAULT_UNIX_SOCKET)
    if not path.startswith("/"):
        raise _invalid(
            text,
            "the socket path is relative, so dockerd would resolve it against its working "
            f"directory, and dhconf needs an absolute path; {_suggestion(f'unix:///{path}')}",
        )
    if path.endswith("/"):
        raise _invalid(
            text,
            "the socket path ends in '/', so it names a directory; "
            "give a file path such as /run/docker.sock",
        )
    size = len(path.encode("utf-8"))
    if size > _MAX_UNIX_PATH_BYTES:
        raise _invalid(
            text,
            f"the socket path is {size} bytes long, but Linux binds at most "
            f"{_MAX_UNIX_PATH_BYTES}; use a shorter path",
        )
    return Host("unix", path)


def _parse_fd(text: str, rest: str) -> Host:
    if rest in ("", "*"):
        # dockerd takes every socket systemd passes for both fd:// and fd://*.
        return Host("fd", "")
    if _DIGITS.fullmatch(rest):
        number = int(rest)
        if number >= _FIRST_ACTIVATED_FD:
            return Host("fd", str(number))
        raise _invalid(
            text,
            f"systemd passes socket-activated file descriptors from {_FIRST_ACTIVATED_FD} up; "
            "use fd:// for all of them or fd://3",
        )
    raise _invalid(
        text,
        "after 'fd://' give nothing, '*' or a file descriptor number such as 3, "
        "because dockerd fails at start with 'should be a number'",
    )


def _unsupported_proto_reason(proto: str) -> str:
    if proto == "npipe":
        return "named pipes exist only on Windows; use unix:// or fd:// on Linux"
    if proto == "ssh":
        return (
            "unsupported proto 'ssh', because ssh is a client transport of the docker CLI "
            "and dockerd cannot listen on it; use unix:// or tcp://"
        )
    if proto.lower() in ("tcp", "unix", "fd"):
        return (
            f"unsupported proto {proto!r}, because protos are case-sensitive; "
            f"write {proto.lower()}://"
        )
    return f"unsupported proto {proto!r}; dockerd listens on tcp://, unix:// and fd:// only"


@dataclass(frozen=True)
class HostFlag:
    """One host flag in an argv: ``argv[index:index + length]``.

    ``value`` is None for a ``-H`` or ``--host`` with nothing after it.
    ``spelling`` is the form: "-H x", "-H=x", "-Hx", "--host x" or "--host=x".
    """

    index: int
    length: int
    value: str | None
    spelling: str


def find_host_flags(argv: Sequence[str]) -> list[HostFlag]:
    """Find every ``-H``/``--host`` flag in a dockerd command line, as spf13/pflag parses it.

    Scanning stops at ``--``, after which pflag reads no flags.
    NOTE: pflag also accepts -H at the end of combined short flags ("-DH x"), and a value
    of another flag in the separate form ("--label -H") is read here as a host flag.
    Neither appears in known unit files, so neither is handled.
    """
    flags = []
    index = 0
    while index < len(argv):
        if argv[index] == "--":
            break
        flag = _match_host_flag(argv, index)
        if flag is None:
            index += 1
            continue
        flags.append(flag)
        index += flag.length
    return flags


def _match_host_flag(argv: Sequence[str], index: int) -> HostFlag | None:
    word = argv[index]
    if word in ("-H", "--host"):
        if index + 1 == len(argv):
            return HostFlag(index, 1, None, f"{word} x")
        return HostFlag(index, 2, argv[index + 1], f"{word} x")
    if word.startswith("--host="):
        return HostFlag(index, 1, word.removeprefix("--host="), "--host=x")
    if word.startswith("-H"):
        # pflag's rule for a shorthand with an attached value: "-H=x" needs at
        # least one character after "=", so "-H=" is the value "=".
        if len(word) > 3 and word[2] == "=":
            return HostFlag(index, 1, word[3:], "-H=x")
        return HostFlag(index, 1, word[2:], "-Hx")
    return None


def replace_host_flags(argv: Sequence[str], hosts: Sequence[Host], *, after: int = 1) -> list[str]:
    """Return ``argv`` with every host flag replaced by one ``-H HOST`` pair per host.

    The pairs go where the first host flag was, or before ``argv[after]`` when
    there was none (1 after "dockerd", 2 after "docker daemon"). Every other word
    keeps its order.
    """
    flags = find_host_flags(argv)
    if flags:
        position = flags[0].index
    elif 0 <= after <= len(argv):
        position = after
    else:
        raise ValueError(f"after={after} is outside the command line {list(argv)!r}")

    removed = {i for flag in flags for i in range(flag.index, flag.index + flag.length)}
    pairs = [word for host in hosts for word in ("-H", str(host))]
    result: list[str] = []
    for i, word in enumerate(argv):
        if i == position:
            result.extend(pairs)
        if i not in removed:
            result.append(word)
    if position == len(argv):
        result.extend(pairs)
    return result
