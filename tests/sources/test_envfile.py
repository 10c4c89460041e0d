"""systemd's EnvironmentFile= rules: the differences table, the parser's rules, corpus files."""

from __future__ import annotations

import pytest

from dhconf.findings import WARNING
from dhconf.sources.envfile import Assignment, parse_environment_file
from tests.sources.envfile_cases import CORPUS_ENV_FILES, SECTION8_CASES
from tests.trees import corpus_path

PATH = "/etc/default/docker"


def corpus_text(relative: str) -> str:
    # Bytes, decoded without newline translation, so that "\r" reaches the parser.
    return corpus_path(relative).read_bytes().decode()


def codes(text: str) -> list[tuple[str, int | None]]:
    return [(finding.code, finding.line) for finding in parse_environment_file(text, PATH).findings]


@pytest.mark.parametrize(
    ("text", "variable", "systemd_value"),
    [case[1:4] for case in SECTION8_CASES],
    ids=[case[0] for case in SECTION8_CASES],
)
def test_table_systemd_value(text: str, variable: str, systemd_value: str | None) -> None:
    assert parse_environment_file(text, PATH).values.get(variable) == systemd_value


@pytest.mark.parametrize(
    ("case_name", "expected"),
    [
        ("01-double-quoted", []),
        ("02-export", [("envfile_ignored_line", 1)]),
        ("03-self-reference", [("envfile_literal_dollar", 2)]),
        ("04-unquoted-blank", []),
        ("05-trailing-comment", [("envfile_trailing_comment", 1)]),
        ("06-single-quote-escape", [("envfile_text_after_quote", 1)]),
        ("07-blanks-around-equals", []),
        ("09-crlf", []),
        ("10-two-quoted-strings", [("envfile_text_after_quote", 1)]),
        ("12-braced-variable", [("envfile_literal_dollar", 1)]),
        ("13-escapes-in-double-quotes", []),
        ("15-command-substitution", [("envfile_literal_dollar", 1)]),
        ("16-comment-ending-in-backslash", [("envfile_comment_continuation", 2)]),
    ],
)
def test_table_findings(case_name: str, expected: list[tuple[str, int]]) -> None:
    text = next(case[1] for case in SECTION8_CASES if case[0] == case_name)
    assert codes(text) == expected


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("A = 1 \n", {"A": "1"}),
        ("  A=1\n\tB=2\n", {"A": "1", "B": "2"}),
        ("A=  x  y  \n", {"A": "x  y"}),
        ("A=x\\ \n", {"A": "x "}),
        ("A=a\\qb\n", {"A": "aqb"}),
        ("A=a\\\\b\n", {"A": "a\\b"}),
        ("A=a\\\nb\n", {"A": "ab"}),
        ("A='a\\nb'\n", {"A": "a\\nb"}),
        ("A='x\ny'\nB=2\n", {"A": "x\ny", "B": "2"}),
        ('A="a\\qb"\n', {"A": "a\\qb"}),
        ('A="a\\$b\\`c\\"d\\\\e"\n', {"A": 'a$b`c"d\\e'}),
        ('A="a\\\nb"\n', {"A": "ab"}),
        ("A=\"x\"'y'z\n", {"A": "xyz"}),
        ('A=x"y z"\n', {"A": 'x"y z"'}),
        ("A=$B ${C} $(d)\n", {"A": "$B ${C} $(d)"}),
        ("A=1;B=2\n", {"A": "1;B=2"}),
        ("A=1 # not a comment\n", {"A": "1 # not a comment"}),
        ("# A=1\n; B=2\n  # C=3\n", {}),
        ("A=1\rB=2\r", {"A": "1", "B": "2"}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
        ('A="x\r\ny"\n', {"A": "x\r\ny"}),
        ("A=1\nA=2\n", {"A": "2"}),
        ("A=\n", {"A": ""}),
        ("A=", {"A": ""}),
        ("A=1", {"A": "1"}),
        ("A\n", {}),
        ("1A=2\nA-B=3\n_a1=4\n", {"_a1": "4"}),
    ],
)
def test_parser_rules(text: str, values: dict[str, str]) -> None:
    assert parse_environment_file(text, PATH).values == values


def test_duplicates_listed_later_wins() -> None:
    result = parse_environment_file("A=1\nB=x\nA=2\n", PATH)
    assert result.assignments == [Assignment("A", "1", 1, 1), Assignment("B", "x", 2, 2), Assignment("A", "2", 3, 3)]


def test_last_returns_final_assignment() -> None:
    result = parse_environment_file("A=1\nA=2\n", PATH)
    assert result.last("A") == Assignment("A", "2", 2, 2)


def test_last_of_missing_name_is_none() -> None:
    assert parse_environment_file("A=1\n", PATH).last("B") is None


def test_multi_line_value_spans_lines() -> None:
    text = "# head\nA=\"one\ntwo\nthree\"\nB=1\n"
    assignment = parse_environment_file(text, PATH).last("A")
    assert (assignment.line, assignment.end_line) == (2, 4)


def test_offsets_cover_key_to_value_end() -> None:
    text = "  A = 'x y'  \r\nB=2\n"
    assignment = parse_environment_file(text, PATH).last("A")
    assert text[assignment.start : assignment.end] == "A = 'x y'  "


def test_export_line_ignored_with_advice() -> None:
    finding = parse_environment_file("export DOCKER_OPTS=-H fd://\n", PATH).findings[0]
    assert "write DOCKER_OPTS=... without it" in finding.message


@pytest.mark.parametrize("text", ["1A=2\n", "A-B=1\n", "A B=1\n"])
def test_invalid_name_is_ignored_line(text: str) -> None:
    assert codes(text) == [("envfile_ignored_line", 1)]


def test_line_without_equals_is_ignored_line() -> None:
    assert codes("A=1\nsource /etc/sysconfig/docker-storage\nB=2\n") == [("envfile_ignored_line", 2)]


def test_findings_carry_path_and_severity() -> None:
    finding = parse_environment_file("fi\n", PATH).findings[0]
    assert (finding.path, finding.severity) == (PATH, WARNING)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("A='x\nB=2\n", "x\nB=2\n"),
        ('A="x\\"y\nB=2\n', 'x"y\nB=2\n'),
        ('A="x\nB=2\\', "x\nB=2"),
    ],
    ids=["single", "double", "double-ending-in-backslash"],
)
def test_unterminated_quote_takes_rest_of_file(text: str, value: str) -> None:
    assert parse_environment_file(text, PATH).values == {"A": value}


def test_unterminated_quote_finding_names_value() -> None:
    finding = parse_environment_file("C=0\nA='x\nB=2\n", PATH).findings[0]
    assert (finding.code, finding.line) == ("envfile_unterminated_quote", 2)
    assert repr("x\nB=2\n") in finding.message


def test_unterminated_span_ends_at_eof() -> None:
    text = "A='x\nB=2\n"
    assignment = parse_environment_file(text, PATH).last("A")
    assert (assignment.end_line, assignment.end) == (2, len(text))


def test_escaped_dollar_not_reported() -> None:
    assert codes('A="\\$HOME"\n') == []


def test_continuation_needs_next_line() -> None:
    assert codes("# one \\\n\nA=1\n") == []


def test_crlf_continuation_not_reported() -> None:
    # Older systemd swallowed the next line only after a backslash right before "\n".
    assert codes("# one \\\r\nA=1\r\n") == []


CORPUS_SYSTEMD_VALUES = {
    "debian/debian-docker.io-1.11.2-etc-default-docker": {},
    "debian/docker.io-0.9.1-etc-default-docker": {},
    "fedora/fedora-master-docker-1.12.2-6-sysconfig-docker": {
        "OPTIONS": "--selinux-enabled --log-driver=journald",
        "DOCKER_CERT_PATH": "/etc/docker",
    },
    "fedora/fedora-master-docker-1.12.2-6-sysconfig-docker-network": {"DOCKER_NETWORK_OPTIONS": ""},
    "redhat/centos-virt7-docker-1.13.1-17-sysconfig-docker": {
        "OPTIONS": "--selinux-enabled --log-driver=journald",
        "DOCKER_CERT_PATH": "/etc/docker",
    },
    "redhat/centos7-docker-1.3.0-3-sysconfig-docker": {
        "OPTIONS": "--selinux-enabled -H fd:// $DOCKER_STORAGE_OPTIONS",
    },
    "redhat/centos7-docker-1.3.0-sysconfig-docker-storage": {
        "DOCKER_STORAGE_OPTIONS": "--storage-opt dm.fs=xfs",
    },
    "redhat/centos7-docker-1.3.2-6-sysconfig-docker": {"OPTIONS": "--selinux-enabled -H fd://"},
    "alpine/alpine-aports-docker.confd": {"DOCKER_OPTS": ""},
    "gentoo/gentoo-app-emulation-docker-r2.confd": {},
    "upstream/moby-v29.0.0-openrc-docker.confd": {"DOCKER_OPTS": ""},
    "upstream/moby-v29.0.0-sysvinit-debian-docker.default": {},
    "upstream/moby-v29.0.0-sysvinit-redhat-docker.sysconfig": {"other_args": ""},
    "user-posted/azure-docker-extension-issue-21-etc-default-docker-no-scheme": {
        "DOCKER_OPTS": "--tlsverify --tlscacert=/etc/docker/ca.pem --tlscert=/etc/docker/server-cert.pem "
        "--tlskey=/etc/docker/server-key.pem -H=0.0.0.0:4243",
    },
    "user-posted/moby-issue-18516-etc-default-docker-self-reference": {
        "DOCKER_OPTS": "${DOCKER_OPTS} -D -H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
    },
    "user-posted/moby-pr-2652-etc-default-docker-H-equals": {
        "DOCKER_OPTS": "-D -H=unix:///var/run/docker.sock -H=tcp://127.0.0.1:4243",
    },
    "user-posted/sous-chefs-docker-issue-691-etc-default-docker": {
        "DOCKER": "/usr/bin/docker",
        "DOCKER_OPTS": " --host=unix:///var/run/docker.sock -r",
    },
    "user-posted/sous-chefs-docker-issue-273-sysconfig-docker": {
        "DOCKER_OPTS": " --host=tcp://0.0.0.0:2375 --host=unix:///var/run/docker.sock --graph=/local/docker "
        "--restart=false --storage-driver=btrfs",
    },
    "user-posted/sous-chefs-docker-issue-273-sysconfig-docker-network": {
        "DOCKER_NETWORK_OPTIONS": "--host=tcp://0.0.0.0:2375 --host=unix:///var/run/docker.sock",
    },
    "user-posted/opensuse-sysconfig-docker-dockarium-readme": {
        "DOCKER_OPTS": "-p /run/docker.pid -H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
    },
}

CORPUS_SYSTEMD_FINDINGS = {
    "redhat/centos-virt7-docker-1.13.1-17-sysconfig-docker": [
        ("envfile_ignored_line", 5),
        ("envfile_ignored_line", 7),
    ],
    "redhat/centos7-docker-1.3.0-3-sysconfig-docker": [
        ("envfile_ignored_line", 2),
        ("envfile_literal_dollar", 5),
    ],
    "user-posted/moby-issue-18516-etc-default-docker-self-reference": [("envfile_literal_dollar", 1)],
}


def test_corpus_table_covers_env_files() -> None:
    assert sorted(CORPUS_SYSTEMD_VALUES) == sorted(CORPUS_ENV_FILES)


@pytest.mark.parametrize("relative", CORPUS_ENV_FILES)
def test_corpus_systemd_values(relative: str) -> None:
    text = corpus_text(relative)
    assert parse_environment_file(text, PATH).values == CORPUS_SYSTEMD_VALUES[relative]


@pytest.mark.parametrize("relative", CORPUS_ENV_FILES)
def test_corpus_systemd_findings(relative: str) -> None:
    text = corpus_text(relative)
    assert codes(text) == CORPUS_SYSTEMD_FINDINGS.get(relative, [])
