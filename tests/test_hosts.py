"""Tests for dhconf.hosts: parsing -H values as dockerd does, and -H flags in argv."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from dhconf.errors import InvalidHost
from dhconf.hosts import (
    Host,
    HostFlag,
    find_host_flags,
    parse_host,
    parse_hosts,
    replace_host_flags,
)

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DHCONF_CORPUS", REPO.parent / "shared" / "corpus"))

# dockerd 23.0+ (moby daemon/pkg/opts/hosts.go) accepts these and prints the same result.
DOCKERD_ACCEPTED = [
    ("tcp://", "tcp://localhost:2375"),
    ("tcp://:", "tcp://localhost:2375"),
    ("tcp://:2375", "tcp://localhost:2375"),
    ("tcp://:2376", "tcp://localhost:2376"),
    ("tcp://host", "tcp://host:2375"),
    ("tcp://host:", "tcp://host:2375"),
    ("tcp://host:1234", "tcp://host:1234"),
    ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
    ("tcp://0.0.0.0:2376", "tcp://0.0.0.0:2376"),
    ("tcp://docker-1.example.org:2376", "tcp://docker-1.example.org:2376"),
    ("host:1234", "tcp://host:1234"),
    (":5555", "tcp://localhost:5555"),
    ("host", "tcp://host:2375"),
    ("host:", "tcp://host:2375"),
    ("0.0.0.0:2375", "tcp://0.0.0.0:2375"),
    ("[::1]", "tcp://[::1]:2375"),
    ("[::1]:", "tcp://[::1]:2375"),
    ("[::1]:5555", "tcp://[::1]:5555"),
    ("tcp://[::]:2375", "tcp://[::]:2375"),
    ("tcp://[0:0:0:0:0:0:0:1]:2375", "tcp://[0:0:0:0:0:0:0:1]:2375"),
    ("tcp://[::ffff:127.0.0.1]:2375", "tcp://[::ffff:127.0.0.1]:2375"),
    ("tcp://h:65535", "tcp://h:65535"),
    ("tcp://h:1", "tcp://h:1"),
    ("unix://", "unix:///var/run/docker.sock"),
    ("unix:///run/docker.sock", "unix:///run/docker.sock"),
    ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
    ("unix:///run/user/1000/docker.sock", "unix:///run/user/1000/docker.sock"),
    ("unix:///tmp/a-b_c.d,e=f+g@h:i~j^k", "unix:///tmp/a-b_c.d,e=f+g@h:i~j^k"),
    ("fd://", "fd://"),
    ("fd://3", "fd://3"),
    ("fd://*", "fd://"),
    ("fd://12", "fd://12"),
    ("unix:///" + "s" * 106, "unix:///" + "s" * 106),
]

# dhconf writes the number a zero-padded value stands for; dockerd keeps the text.
NORMALIZED_NUMBERS = [
    ("tcp://h:02375", "tcp://h:2375"),
    ("fd://03", "fd://3"),
]

# (input, a phrase the message must contain). Rows marked "stricter" are
# values that dockerd accepts at parse time but dhconf rejects.
REJECTED = [
    ("", "the value is empty"),  # stricter: dockerd uses its default socket
    ("   ", "the value is empty"),  # stricter: dockerd trims and uses the default
    ("tcp:a.b.c.d", "the port 'a.b.c.d'"),
    ("tcp://h:1/", "must not contain a path"),
    ("tcp://h:1/p", "must not contain a path"),
    ("h:1/p", "must not contain a path"),
    ("tcp://h:2375/x", "must not contain a path; use tcp://h:2375"),
    ("tcp:///", "must not contain a path"),
    ("tcp://unix:///run/docker.sock", "second '://'"),
    ("tcp://h:0", "the port '0'"),
    ("tcp://h:00", "the port '00'"),
    ("tcp://h:port", "the port 'port'"),
    ("tcp://:-1", "the port '-1'"),
    ("tcp://h:65536", "the port '65536'"),  # stricter: dockerd fails at listen time
    ("tcp://h:1234567890", "the port '1234567890'"),  # stricter
    ("unix://rel/path", "dhconf needs an absolute path; use unix:///rel/path"),  # stricter
    ("unix://tcp://x", "invalid unix address 'tcp://x'"),
    ("unix:///", "names a directory"),  # stricter
    ("unix:///" + "s" * 107, "bytes long"),  # stricter: fails at listen time
    ("fd://junk", "a file descriptor number"),  # stricter: dockerd fails at start
    ("fd://0", "from 3 up"),  # stricter
    ("fd://2", "from 3 up"),  # stricter
    ("fd://-3", "a file descriptor number"),
    ("npipe://", "named pipes exist only on Windows"),
    ("npipe:////./pipe/docker_engine", "named pipes exist only on Windows"),
    ("ssh://user@host", "unsupported proto 'ssh'"),
    ("udp://h:1", "unsupported proto 'udp'"),
    ("http://h:1", "unsupported proto 'http'"),
    ("https://h:1", "unsupported proto 'https'"),
    ("://", "unsupported proto ''"),
    ("unknown://", "unsupported proto 'unknown'"),
    ("TCP://h:1", "unsupported proto 'TCP'"),
    ("Unix://", "unsupported proto 'Unix'"),
    # Go's url.Parse drops these silently; dhconf rejects them.
    ("tcp://user@h:1", "user information"),
    ("tcp://h:1?x=1", "a query"),
    ("tcp://h:1#frag", "a fragment"),
    ("tcp://::1", "put IPv6 addresses in brackets: tcp://[::1]:2375"),
    ("::1:2375", "put IPv6 addresses in brackets"),
    ("fe80::1", "put IPv6 addresses in brackets"),
    ("tcp://[fe80::1%25eth0]:2375", "IPv6 zones"),
    ("tcp://[fe80::1%eth0]:2375", "IPv6 zones"),
    ("tcp://[::1", "no closing ']'"),
    ("tcp://[::1]2375", "unexpected text '2375'"),
    ("tcp://[]:2375", "not a valid IPv6 address"),
    ("tcp://[zz]:2375", "'zz' is not a valid IPv6 address"),
    ("tcp://[127.0.0.1]:2375", "brackets are only for IPv6 addresses; use tcp://127.0.0.1:2375"),
    ("tcp://h[1]:2375", "brackets may only enclose an IPv6 address"),
    ("tcp://h_x:2375", "may contain only letters, digits"),
    ("tcp://hé:2375", "may contain only letters, digits"),
    ("tcp://-h:2375", "do not start or end with '-'"),
    ("tcp://h-.example:2375", "do not start or end with '-'"),
    ("tcp://a..b:2375", "hostname 'a..b' is not valid"),
    ("tcp://.a:2375", "hostname '.a' is not valid"),
    ("tcp://a.:2375", "hostname 'a.' is not valid"),
    ("tcp://" + "a" * 64 + ":2375", "is not valid"),
    ("tcp://2375", "'2375' is not a valid IPv4 address"),
    ("tcp://127.1:2375", "'127.1' is not a valid IPv4 address"),
    ("tcp://0177.0.0.1:2375", "'0177.0.0.1' is not a valid IPv4 address"),
]

SHELL_SPECIAL = list("'\"$`;\\#%&|<>()*?[]!{}")
WHITESPACE = [" ", "\t", "\n", "\r", "\v", "\f", "\u00a0", "\u2003"]
CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b"]


@pytest.mark.parametrize(("text", "expected"), DOCKERD_ACCEPTED + NORMALIZED_NUMBERS)
def test_parse_host_accepted(text: str, expected: str) -> None:
    assert str(parse_host(text)) == expected


@pytest.mark.parametrize(("text", "expected"), DOCKERD_ACCEPTED + NORMALIZED_NUMBERS)
def test_parse_host_idempotent(text: str, expected: str) -> None:
    assert parse_host(str(parse_host(text))) == parse_host(text)


@pytest.mark.parametrize(("text", "phrase"), REJECTED)
def test_parse_host_rejected(text: str, phrase: str) -> None:
    with pytest.raises(InvalidHost) as caught:
        parse_host(text)
    assert phrase in caught.value.message


@pytest.mark.parametrize("text", [text for text, _ in REJECTED])
def test_rejection_message_names_value(text: str) -> None:
    with pytest.raises(InvalidHost) as caught:
        parse_host(text)
    assert caught.value.message.startswith(f"invalid host {text!r}: ")
    assert caught.value.details == {"value": text}
    assert caught.value.code == "invalid_host"


def test_ssh_message_says_client_transport() -> None:
    with pytest.raises(InvalidHost, match="client transport"):
        parse_host("ssh://user@host")


def test_blank_message_says_omit_flag() -> None:
    with pytest.raises(InvalidHost, match="omit the -H flag"):
        parse_host("")


@pytest.mark.parametrize("character", SHELL_SPECIAL + WHITESPACE + CONTROL)
def test_unix_path_character_rejected(character: str) -> None:
    text = f"unix:///run/do{character}cker.sock"
    with pytest.raises(InvalidHost) as caught:
        parse_host(text)
    assert repr(character) in caught.value.message


@pytest.mark.parametrize("character", SHELL_SPECIAL + WHITESPACE + CONTROL)
def test_tcp_host_character_rejected(character: str) -> None:
    with pytest.raises(InvalidHost):
        parse_host(f"tcp://do{character}cker:2375")


@pytest.mark.parametrize("character", SHELL_SPECIAL + WHITESPACE + CONTROL)
def test_tcp_port_character_rejected(character: str) -> None:
    with pytest.raises(InvalidHost):
        parse_host(f"tcp://127.0.0.1:23{character}75")


@pytest.mark.parametrize(
    "character", [c for c in SHELL_SPECIAL if c not in "[]%#?"] + WHITESPACE + CONTROL
)
def test_tcp_character_message_names_it(character: str) -> None:
    with pytest.raises(InvalidHost) as caught:
        parse_host(f"tcp://do{character}cker:2375")
    assert repr(character) in caught.value.message


@pytest.mark.parametrize(
    "text", ["fd://3*", "fd://**", "fd://*3", "tcp://*:2375", "unix:///run/*.sock"]
)
def test_star_outside_fd_star_rejected(text: str) -> None:
    with pytest.raises(InvalidHost, match=r"the character '\*'"):
        parse_host(text)


@pytest.mark.parametrize(
    "text", [" tcp://h:1", "tcp://h:1 ", "unix:///run/docker.sock\n", "\tfd://"]
)
def test_surrounding_whitespace_rejected(text: str) -> None:
    with pytest.raises(InvalidHost, match="whitespace character"):
        parse_host(text)


def test_newline_shown_escaped() -> None:
    with pytest.raises(InvalidHost) as caught:
        parse_host("unix:///a\nb")
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("text", "proto", "address"),
    [
        ("tcp://h:1", "tcp", "h:1"),
        ("[::1]:5", "tcp", "[::1]:5"),
        ("unix://", "unix", "/var/run/docker.sock"),
        ("fd://", "fd", ""),
        ("fd://*", "fd", ""),
        ("fd://3", "fd", "3"),
    ],
)
def test_host_fields(text: str, proto: str, address: str) -> None:
    assert parse_host(text) == Host(proto, address)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("tcp://", "localhost", 2375),
        ("tcp://example.org:2376", "example.org", 2376),
        ("[::1]:5555", "::1", 5555),
        ("tcp://[0:0:0:0:0:0:0:1]", "0:0:0:0:0:0:0:1", 2375),
        ("192.0.2.7:80", "192.0.2.7", 80),
    ],
)
def test_tcp_host_and_port(text: str, host: str, port: int) -> None:
    parsed = parse_host(text)
    assert parsed.host == host
    assert parsed.port == port


@pytest.mark.parametrize("text", ["unix://", "fd://"])
@pytest.mark.parametrize("attribute", ["host", "port"])
def test_host_and_port_need_tcp(text: str, attribute: str) -> None:
    with pytest.raises(ValueError, match="is not a TCP address"):
        getattr(parse_host(text), attribute)


@pytest.mark.parametrize(
    ("text", "is_tcp", "is_unix", "is_fd"),
    [
        ("tcp://", True, False, False),
        ("unix://", False, True, False),
        ("fd://", False, False, True),
    ],
)
def test_proto_predicates(text: str, is_tcp: bool, is_unix: bool, is_fd: bool) -> None:
    parsed = parse_host(text)
    assert parsed.is_tcp is is_tcp
    assert parsed.is_unix is is_unix
    assert parsed.is_fd is is_fd


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://localhost:2375", True),
        ("tcp://:2375", True),
        ("tcp://127.0.0.1:2375", True),
        ("tcp://127.255.0.9:2375", True),
        ("tcp://[::1]:2375", True),
        ("tcp://[0:0:0:0:0:0:0:1]:2375", True),
        ("tcp://[::ffff:127.0.0.1]:2375", True),
        ("unix:///run/docker.sock", True),
        ("fd://", True),
        ("tcp://0.0.0.0:2375", False),
        ("tcp://[::]:2375", False),
        ("tcp://192.0.2.1:2375", False),
        ("tcp://128.0.0.1:2375", False),
        ("tcp://[::2]:2375", False),
        ("tcp://[::ffff:192.0.2.1]:2375", False),
        # Names other than the literal "localhost" are not resolved, so they count as remote.
        ("tcp://LOCALHOST:2375", False),
        ("tcp://localhost.localdomain:2375", False),
        ("tcp://ip6-localhost:2375", False),
    ],
)
def test_is_loopback(text: str, expected: bool) -> None:
    assert parse_host(text).is_loopback is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://0.0.0.0:2375", True),
        ("0.0.0.0", True),
        ("tcp://[::]:2376", True),
        ("tcp://[0:0:0:0:0:0:0:0]:2376", True),
        ("tcp://[::ffff:0.0.0.0]:2376", True),
        ("tcp://127.0.0.1:2375", False),
        ("tcp://:2375", False),
        ("tcp://192.0.2.1:2375", False),
        ("unix://", False),
        ("fd://", False),
    ],
)
def test_is_wildcard(text: str, expected: bool) -> None:
    assert parse_host(text).is_wildcard is expected


def test_parse_hosts_deduplicates_in_order() -> None:
    values = [
        "unix://",
        "tcp://:2375",
        "unix:///var/run/docker.sock",
        "localhost",
        "fd://",
        "localhost:2375",
    ]
    assert [str(host) for host in parse_hosts(values)] == [
        "unix:///var/run/docker.sock",
        "tcp://localhost:2375",
        "fd://",
    ]


def test_parse_hosts_keeps_distinct_spellings() -> None:
    # dockerd does not canonicalize IPv6 text either, so both are kept.
    assert len(parse_hosts(["[::1]:2375", "[0:0:0:0:0:0:0:1]:2375"])) == 2


def test_parse_hosts_raises_on_invalid() -> None:
    with pytest.raises(InvalidHost, match="invalid host 'tcp://h:0'"):
        parse_hosts(["fd://", "tcp://h:0"])


def test_parse_hosts_empty() -> None:
    assert parse_hosts([]) == []


def test_hosts_sort_like_dockerd() -> None:
    hosts = parse_hosts(["unix://", "tcp://b:1", "fd://", "tcp://a:2"])
    assert [str(host) for host in sorted(hosts)] == sorted(str(host) for host in hosts)


# --- Shell safety: every accepted host is one word in a file that /bin/sh sources.


def shell_words(tmp_path: Path, hosts: list[str]) -> list[list[str]]:
    """Source ``V_i="-H <host>"`` lines with /bin/sh and split each unquoted ``$V_i`` into words."""
    env_file = tmp_path / "docker.env"
    env_file.write_text(
        "".join(f'V_{i}="-H {host}"\n' for i, host in enumerate(hosts)), encoding="utf-8"
    )
    script = ". ./docker.env\n" + "".join(
        f"printf '%s\\0' $V_{i}; printf '\\1\\0'\n" for i in range(len(hosts))
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    words = result.stdout.decode("utf-8").split("\0")[:-1]
    groups: list[list[str]] = [[]]
    for word in words:
        if word == "\1":
            groups.append([])
        else:
            groups[-1].append(word)
    return groups[:-1]


@pytest.mark.parametrize(("text", "expected"), DOCKERD_ACCEPTED + NORMALIZED_NUMBERS)
def test_shell_round_trip(tmp_path: Path, text: str, expected: str) -> None:
    host = str(parse_host(text))
    assert shell_words(tmp_path, [host]) == [["-H", host]]


def random_candidates(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    prefixes = [
        "",
        "tcp://",
        "unix://",
        "unix:///",
        "unix:///run/",
        "fd://",
        "[::1]:",
        "tcp://127.0.0.1:",
    ]
    plain = "ab1:/.-_@~=,+^é"
    special = "".join(SHELL_SPECIAL) + " \t\n\x07"
    candidates = []
    for _ in range(count):
        body = "".join(
            rng.choice(plain if rng.random() < 0.9 else special) for _ in range(rng.randint(0, 8))
        )
        candidates.append(rng.choice(prefixes) + body)
    return candidates


def test_shell_round_trip_random(tmp_path: Path) -> None:
    accepted = []
    for candidate in random_candidates(20000, seed=2375):
        try:
            accepted.append(str(parse_host(candidate)))
        except InvalidHost:
            continue
    accepted = sorted(set(accepted))
    # Guard against a generator that stops producing valid hosts.
    assert len(accepted) > 1000
    assert shell_words(tmp_path, accepted) == [["-H", host] for host in accepted]


# --- -H flags in a dockerd argv


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["dockerd", "-H", "fd://"], [HostFlag(1, 2, "fd://", "-H x")]),
        (["dockerd", "-H=fd://"], [HostFlag(1, 1, "fd://", "-H=x")]),
        (["dockerd", "-Hfd://"], [HostFlag(1, 1, "fd://", "-Hx")]),
        (["dockerd", "--host", "fd://"], [HostFlag(1, 2, "fd://", "--host x")]),
        (["dockerd", "--host=fd://"], [HostFlag(1, 1, "fd://", "--host=x")]),
        (["dockerd", "-H"], [HostFlag(1, 1, None, "-H x")]),
        (["dockerd", "--host"], [HostFlag(1, 1, None, "--host x")]),
        (["dockerd", "--host="], [HostFlag(1, 1, "", "--host=x")]),
        # pflag reads "-H=" as the shorthand with the attached value "=".
        (["dockerd", "-H="], [HostFlag(1, 1, "=", "-Hx")]),
        # pflag takes the next word as the value even when it starts with a dash.
        (["dockerd", "-H", "--tls"], [HostFlag(1, 2, "--tls", "-H x")]),
        (
            ["dockerd", "-H", "fd://", "--tls", "--host=tcp://:2376", "-Hunix://", "-D"],
            [
                HostFlag(1, 2, "fd://", "-H x"),
                HostFlag(4, 1, "tcp://:2376", "--host=x"),
                HostFlag(5, 1, "unix://", "-Hx"),
            ],
        ),
        (
            ["docker", "daemon", "-H=unix://", "--selinux-enabled"],
            [HostFlag(2, 1, "unix://", "-H=x")],
        ),
    ],
)
def test_find_host_flags(argv: list[str], expected: list[HostFlag]) -> None:
    assert find_host_flags(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["dockerd"],
        ["dockerd", "--host-gateway-ip=192.0.2.1"],
        ["dockerd", "--host-gateway-ip", "192.0.2.1"],
        ["dockerd", "--hosts", "x"],
        ["dockerd", "--hostname=x"],
        ["dockerd", "-h"],
        ["dockerd", "--help"],
        ["dockerd", "-D", "--containerd=/run/containerd/containerd.sock"],
        ["dockerd", "--", "-H", "fd://"],
    ],
)
def test_find_host_flags_none(argv: list[str]) -> None:
    assert find_host_flags(argv) == []


TWO_HOSTS = [Host("unix", "/var/run/docker.sock"), Host("tcp", "127.0.0.1:2375")]
TWO_HOSTS_ARGS = ["-H", "unix:///var/run/docker.sock", "-H", "tcp://127.0.0.1:2375"]


@pytest.mark.parametrize(
    ("argv", "after", "expected"),
    [
        (
            ["/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"],
            1,
            ["/usr/bin/dockerd", *TWO_HOSTS_ARGS, "--containerd=/run/containerd/containerd.sock"],
        ),
        (["/usr/bin/docker", "-d", "-H", "fd://"], 1, ["/usr/bin/docker", "-d", *TWO_HOSTS_ARGS]),
        (
            ["/usr/bin/docker", "daemon", "-H=unix://", "--selinux-enabled"],
            2,
            ["/usr/bin/docker", "daemon", *TWO_HOSTS_ARGS, "--selinux-enabled"],
        ),
        (
            [
                "dockerd",
                "-D",
                "-H",
                "a",
                "--tls",
                "--host=b",
                "-Hc",
                "--label",
                "x=y",
                "--host",
                "d",
            ],
            1,
            ["dockerd", "-D", *TWO_HOSTS_ARGS, "--tls", "--label", "x=y"],
        ),
        (["dockerd", "--tls", "-H"], 1, ["dockerd", "--tls", *TWO_HOSTS_ARGS]),
        (
            ["dockerd", "--containerd=/run/containerd/containerd.sock"],
            1,
            ["dockerd", *TWO_HOSTS_ARGS, "--containerd=/run/containerd/containerd.sock"],
        ),
        (
            ["docker", "daemon", "--selinux-enabled"],
            2,
            ["docker", "daemon", *TWO_HOSTS_ARGS, "--selinux-enabled"],
        ),
        (["dockerd"], 1, ["dockerd", *TWO_HOSTS_ARGS]),
        (["dockerd", "-D"], 2, ["dockerd", "-D", *TWO_HOSTS_ARGS]),
        (["dockerd", "--", "-H", "x"], 1, ["dockerd", *TWO_HOSTS_ARGS, "--", "-H", "x"]),
    ],
)
def test_replace_host_flags(argv: list[str], after: int, expected: list[str]) -> None:
    assert replace_host_flags(argv, TWO_HOSTS, after=after) == expected


def test_replace_host_flags_without_hosts() -> None:
    argv = [
        "dockerd",
        "-H",
        "fd://",
        "--containerd=/run/containerd/containerd.sock",
        "--host=unix://",
    ]
    assert replace_host_flags(argv, []) == [
        "dockerd",
        "--containerd=/run/containerd/containerd.sock",
    ]


def test_replace_host_flags_keeps_input() -> None:
    argv = ["dockerd", "-H", "fd://"]
    replace_host_flags(argv, TWO_HOSTS)
    assert argv == ["dockerd", "-H", "fd://"]


@pytest.mark.parametrize("after", [-1, 3])
def test_replace_host_flags_after_out_of_range(after: int) -> None:
    with pytest.raises(ValueError, match=f"after={after}"):
        replace_host_flags(["dockerd", "-D"], TWO_HOSTS, after=after)


def test_replace_result_round_trips() -> None:
    argv = ["dockerd", "--host=tcp://:2376", "--tlsverify", "-Hfd://"]
    replaced = replace_host_flags(argv, parse_hosts(flag.value for flag in find_host_flags(argv)))
    assert replaced == ["dockerd", "-H", "tcp://localhost:2376", "-H", "fd://", "--tlsverify"]


# --- Host flags in real-world unit files and env files


def host_values_in(path: Path) -> list[str | None]:
    """Return the -H values on the non-comment lines of a unit or env file, quotes removed."""
    values: list[str | None] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        words = stripped.replace('"', " ").replace("'", " ").split()
        values.extend(flag.value for flag in find_host_flags(words))
    return values


UNIX_DEFAULT = "unix:///var/run/docker.sock"
CORPUS_HOSTS = [
    ("upstream/moby-v1.3.0-docker.service", ["fd://"]),
    ("upstream/moby-v17.06-docker.service", ["fd://"]),
    ("upstream/moby-v29.0.0-docker.service", ["fd://"]),
    ("upstream/docker-ce-packaging-v18.09.0-docker.service", [UNIX_DEFAULT]),
    ("upstream/docker-ce-packaging-pr222-docker.service", [UNIX_DEFAULT]),
    ("upstream/moby-docs-v1.10.0-dropin-graph-storage.conf", ["fd://"]),
    ("upstream/moby-docs-v1.10.0-dropin-sysconfig-compat.conf", ["fd://"]),
    ("upstream/docker-docs-remote-access-override.conf", ["fd://", "tcp://127.0.0.1:2375"]),
    ("arch/arch-docker-1.11.1-1-docker.service", ["fd://"]),
    ("redhat/centos7-docker-0.11.1-16-docker.service", ["fd://"]),
    ("redhat/centos7-docker-1.3.2-6-sysconfig-docker", ["fd://"]),
    ("rootless/debian-docker.io-rootless-user-docker.service-hand-edited", []),
    ("ubuntu/ubuntu-docker.io-20.10.21-0ubuntu3-docker.service", ["fd://"]),
    (
        "user-posted/moby-issue-18516-etc-default-docker-self-reference",
        ["tcp://127.0.0.1:2375", UNIX_DEFAULT],
    ),
    (
        "user-posted/sous-chefs-docker-issue-273-sysconfig-docker",
        ["tcp://0.0.0.0:2375", UNIX_DEFAULT],
    ),
    (
        "user-posted/sous-chefs-docker-issue-273-sysconfig-docker-network",
        ["tcp://0.0.0.0:2375", UNIX_DEFAULT],
    ),
    ("user-posted/sous-chefs-docker-issue-691-etc-default-docker", [UNIX_DEFAULT]),
    (
        "user-posted/azure-docker-extension-issue-21-etc-default-docker-no-scheme",
        ["tcp://0.0.0.0:4243"],
    ),
    (
        "user-posted/centos7-docker-ce-18.06-docker.service-edited-tcp2375",
        ["tcp://0.0.0.0:2375", UNIX_DEFAULT],
    ),
    (
        "user-posted/moby-pr-2652-etc-default-docker-H-equals",
        [UNIX_DEFAULT, "tcp://127.0.0.1:4243"],
    ),
    (
        "user-posted/docker-machine-generated-docker.service-no-unit-section",
        ["tcp://0.0.0.0:2376", UNIX_DEFAULT],
    ),
    ("user-posted/docker-machine-issue-4129-10-machine.conf", ["tcp://0.0.0.0:2376", UNIX_DEFAULT]),
    (
        "user-posted/opensuse-sysconfig-docker-dockarium-readme",
        ["tcp://127.0.0.1:2375", UNIX_DEFAULT],
    ),
    ("user-posted/coreos-899-docker.service-quoted-in-docker-machine-pr3392", ["fd://"]),
]


@pytest.mark.parametrize(("name", "expected"), CORPUS_HOSTS)
def test_corpus_hosts(name: str, expected: list[str]) -> None:
    values = host_values_in(CORPUS / name)
    assert [str(parse_host(value)) for value in values] == expected


def test_corpus_relative_unix_rejected() -> None:
    # dockerd binds "unix://var/run/docker.sock" as var/run/docker.sock in its working directory.
    values = host_values_in(CORPUS / "user-posted/service-section-fragment-unix-two-slashes")
    assert values == ["tcp://0.0.0.0:2375", "unix://var/run/docker.sock"]
    with pytest.raises(InvalidHost, match="absolute path; use unix:///var/run/docker.sock"):
        parse_host(values[1])
