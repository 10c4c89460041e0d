"""ExecStart= values to argv and back, and systemd's variable substitution.

The expected values are what systemd 252 made of the same lines: the ExecStart
D-Bus property of a user manager, and the argv that a started command got.
test_unit.py repeats these comparisons against a live manager.
"""

from __future__ import annotations

import pytest

from dhconf.errors import InvalidInput, UnitSyntaxError
from dhconf.sources.execstart import (
    Command,
    expand_variables,
    format_command_line,
    parse_command_line,
    parse_command_lines,
    split_variable_value,
)

PARSE_CASES = [
    ("stock", "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock",
     ("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock")),
    ("runs of blanks and tabs", "/usr/bin/dockerd  -H\ttcp://0.0.0.0:2375   ",
     ("/usr/bin/dockerd", "-H", "tcp://0.0.0.0:2375")),
    ("no inline comment", "/usr/bin/dockerd # x", ("/usr/bin/dockerd", "#", "x")),
    ("quote inside a word", '/usr/bin/dockerd --label="a b"', ("/usr/bin/dockerd", "--label=a b")),
    ("quotes glue to their neighbours", '/bin/true a"b c"d', ("/bin/true", "ab cd")),
    ("single quotes decode escapes", r"/bin/true 'single\tq' 'x\'y'", ("/bin/true", "single\tq", "x'y")),
    ("adjacent single quotes", "/bin/true 'it''s'", ("/bin/true", "its")),
    ("escaped double quote", r'/bin/true "x\"y"', ("/bin/true", 'x"y')),
    ("C escapes", r"/bin/true \s\u00e9\101 \x41 \U0001F600", ("/bin/true", " éA", "A", "\U0001F600")),
    ("UTF-8 bytes by \\x", r"/bin/true \xc3\xa9", ("/bin/true", "é")),
    ("unknown escapes kept", r"/bin/true a\w \$X \x4 a\ b", ("/bin/true", r"a\w", r"\$X", r"\x4", r"a\ b")),
    ("NUL escapes are unknown", r'/bin/true "\x00" \u0000', ("/bin/true", r"\x00", r"\u0000")),
    ("escaped backslash", r"/bin/true x\\", ("/bin/true", "x\\")),
    ("empty words", "/bin/true '' \"\"", ("/bin/true", "", "")),
    ("escaped and quoted semicolons", r'/bin/true \; ";" "a;" x;', ("/bin/true", ";", ";", "a;", "x;")),
    ("percent", "/bin/true a%%b 100% x% %", ("/bin/true", "a%b", "100%", "x%", "%")),
    ("specifiers kept", "/usr/bin/dockerd -H unix://%t/docker.sock --data-root=%h/docker",
     ("/usr/bin/dockerd", "-H", "unix://%t/docker.sock", "--data-root=%h/docker")),
    ("variables before substitution", '/usr/bin/dockerd $DOCKER_OPTS ${X}y "$Q" $$Y',
     ("/usr/bin/dockerd", "$DOCKER_OPTS", "${X}y", "$Q", "$$Y")),
    ("bare executable name", "docker -d $DOCKER_OPTS ...", ("docker", "-d", "$DOCKER_OPTS", "...")),
    ("quoted executable", '"/usr/bin/dockerd" -H fd://', ("/usr/bin/dockerd", "-H", "fd://")),
    ("sh -c with a single-quoted script", "/bin/sh -c '/usr/bin/docker daemon $OPTIONS 2>&1 | logger'",
     ("/bin/sh", "-c", "/usr/bin/docker daemon $OPTIONS 2>&1 | logger")),
]


@pytest.mark.parametrize(("value", "argv"), [case[1:] for case in PARSE_CASES], ids=[case[0] for case in PARSE_CASES])
def test_parse_command_line_words(value: str, argv: tuple[str, ...]) -> None:
    assert parse_command_line(value).argv == argv


@pytest.mark.parametrize(
    ("value", "prefixes", "argv"),
    [
        ("-/usr/bin/dockerd", "-", ("/usr/bin/dockerd",)),
        ("-@/bin/true argv0 x", "-@", ("/bin/true", "argv0", "x")),
        (":/bin/true $A", ":", ("/bin/true", "$A")),
        ("+/bin/true", "+", ("/bin/true",)),
        ("!!/bin/true", "!!", ("/bin/true",)),
        ("-!/bin/echo", "-!", ("/bin/echo",)),
        ("!-/bin/echo", "!-", ("/bin/echo",)),
        ('-"/opt/my dir/dockerd"', "-", ("/opt/my dir/dockerd",)),
        ('"-/usr/bin/dockerd"', "-", ("/usr/bin/dockerd",)),
    ],
)
def test_parse_command_line_prefixes(value: str, prefixes: str, argv: tuple[str, ...]) -> None:
    assert parse_command_line(value) == Command(prefixes, argv)


def test_parse_command_lines_splits_at_a_lone_semicolon() -> None:
    commands = parse_command_lines(r":/bin/true $A ; +/bin/true b \; c")
    assert commands == [Command(":", ("/bin/true", "$A")), Command("+", ("/bin/true", "b", ";", "c"))]


def test_parse_command_lines_skips_a_leading_separator() -> None:
    assert parse_command_lines('";" /bin/true q') == [Command("", ("/bin/true", "q"))]


def test_parse_command_lines_empty_value() -> None:
    assert parse_command_lines("   ") == []


def test_parse_command_line_rejects_several_commands() -> None:
    with pytest.raises(UnitSyntaxError, match="expected one command"):
        parse_command_line("/bin/true ; /bin/false")


# fatal: systemd rejects the whole unit. Otherwise it ignores only the setting.
SYNTAX_ERRORS = [
    ("unterminated quote in an argument", '/bin/true "x', True),
    ("unterminated quote with the - prefix", '-/bin/true "x', False),
    ("unterminated quote in the executable", '"/bin/false', False),
    ("unterminated single quote after escapes", "/bin/true 'a\\x", True),
    ("dangling backslash", "/bin/true x\\", True),
    ("unknown specifier", "/bin/true %Z", True),
    ("unknown specifier with the - prefix", "-/bin/true %Z", False),
    ("backslash in the executable", r"/bin/tr\ue a", True),
    ("quote in the executable", '"/bin/it\'s"', True),
    ("unbalanced quote in the executable", "/bin/it's", False),
    ("relative path with a slash", "bin/dockerd", True),
    ("a repeated - is not a prefix", "--/bin/true", False),
    ("executable is a directory", "/usr/bin/", True),
    ("only prefixes", "-", False),
    ("@ without argv[0]", "@/bin/true", True),
]


@pytest.mark.parametrize(("value", "fatal"), [case[1:] for case in SYNTAX_ERRORS], ids=[case[0] for case in SYNTAX_ERRORS])
def test_parse_command_line_rejects_what_systemd_rejects(value: str, fatal: bool) -> None:
    with pytest.raises(UnitSyntaxError) as caught:
        parse_command_line(value)
    assert caught.value.details["fatal"] is fatal


def test_unit_syntax_error_has_its_code() -> None:
    with pytest.raises(UnitSyntaxError) as caught:
        parse_command_line('/usr/bin/dockerd --label="a b')
    assert caught.value.code == "unit_syntax"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('--label="a b" -H tcp://127.0.0.1:2375', ["--label=a b", "-H", "tcp://127.0.0.1:2375"]),
        ("-H tcp://127.0.0.1:2375   x", ["-H", "tcp://127.0.0.1:2375", "x"]),
        ("a\\tb 'c d' e\\ f", ["atb", "c d", "e f"]),
        ("unbalanced 'quote x", ["unbalanced", "quote x"]),
        ("trailing\\", ["trailing"]),
        ("", []),
        ("   ", []),
        ('x"y z"w', ["xy zw"]),
        ("a\\nb", ["anb"]),
        ("a \"\" b '' c", ["a", "", "b", "", "c"]),
        ("x\\ y 'p\\'q' \"r\\\"s\"", ["x y", "p'q", 'r"s']),
    ],
)
def test_split_variable_value(value: str, words: list[str]) -> None:
    assert split_variable_value(value) == words


ENV = {
    "E1": "hello",
    "E2": "sp ace",
    "EMPTY": "",
    "DOCKER_OPTS": '--label="a b" -H tcp://127.0.0.1:2375',
}

# (case, argv words, result): systemd 252 started a command with these words.
EXPANSIONS = [
    ("whole word is split", ["$DOCKER_OPTS"], ["--label=a b", "-H", "tcp://127.0.0.1:2375"]),
    ("braced is one word", ["${DOCKER_OPTS}"], ['--label="a b" -H tcp://127.0.0.1:2375']),
    ("unset whole word vanishes", ["a", "$UNSET", "b"], ["a", "b"]),
    ("unset braced is an empty word", ["${UNSET}"], [""]),
    ("empty value vanishes", ["$EMPTY"], []),
    ("braced inside a word", ["pre${E2}post"], ["presp acepost"]),
    ("bare inside a word stays", ["pre$E1"], ["pre$E1"]),
    ("$$ is a dollar", ["$$E1", "$${E1}", "a$$b"], ["$E1", "${E1}", "a$b"]),
    ("whole word with a slash has an invalid name", ["$E1/x"], []),
    ("lone dollar vanishes", ["$"], []),
    ("dollar brace-close vanishes", ["$}"], []),
    ("empty braces", ["${}"], [""]),
    ("default syntax is not supported", ["${E1:-x}"], ["${E1:-x}"]),
    ("unclosed brace stays", ["x${E1", "$${"], ["x${E1", "${"]),
    ("no recursive expansion", ["$R"], ["${E1}/docker"]),
]


@pytest.mark.parametrize(("argv", "result"), [case[1:] for case in EXPANSIONS], ids=[case[0] for case in EXPANSIONS])
def test_expand_variables(argv: list[str], result: list[str]) -> None:
    assert expand_variables(argv, {**ENV, "R": "${E1}/docker"}) == result


# Values that systemd's EnvironmentFile= parser gives DOCKER_OPTS for the
# classic /etc/default/docker mistakes, and the arguments "$DOCKER_OPTS" becomes.
ENV_FILE_VALUES = [
    ("two hosts", "-H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
     ["-H", "tcp://127.0.0.1:2375", "-H", "unix:///var/run/docker.sock"]),
    ("self reference kept literally", "$DOCKER_OPTS -H tcp://127.0.0.1:2375", ["$DOCKER_OPTS", "-H", "tcp://127.0.0.1:2375"]),
    ("unquoted value", "-H tcp://127.0.0.1:2375", ["-H", "tcp://127.0.0.1:2375"]),
    ("comment after the closing quote", "-H tcp://127.0.0.1:2375# listen locally", ["-H", "tcp://127.0.0.1:2375#", "listen", "locally"]),
    ("sh quote concatenation", "--label owner=it''s'", ["--label", "owner=its"]),
    ("two quoted strings run together", "-H tcp://127.0.0.1:2375-H unix:///var/run/docker.sock",
     ["-H", "tcp://127.0.0.1:2375-H", "unix:///var/run/docker.sock"]),
    ("quotes inside the value", '--label=foo"bar baz"', ["--label=foobar baz"]),
    ("no expansion of ${HOME}", "--data-root ${HOME}/docker", ["--data-root", "${HOME}/docker"]),
    ("escaped quotes and backslash", '--label "quoted" --label a\\b', ["--label", "quoted", "--label", "ab"]),
    ("label with a space", '--label="a b" -H tcp://127.0.0.1:2375', ["--label=a b", "-H", "tcp://127.0.0.1:2375"]),
    ("command substitution stays text", "$(echo -H tcp://127.0.0.1:2375)", ["$(echo", "-H", "tcp://127.0.0.1:2375)"]),
]


@pytest.mark.parametrize(("value", "args"), [row[1:] for row in ENV_FILE_VALUES], ids=[row[0] for row in ENV_FILE_VALUES])
def test_expand_docker_opts_from_an_environment_file(value: str, args: list[str]) -> None:
    assert expand_variables(["$DOCKER_OPTS"], {"DOCKER_OPTS": value}) == args


def test_braced_docker_opts_passes_the_whole_value() -> None:
    value = '--label="a b" -H tcp://127.0.0.1:2375'
    assert expand_variables(["${DOCKER_OPTS}"], {"DOCKER_OPTS": value}) == [value]


ROUND_TRIPS = [
    ("stock", "", ("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock")),
    ("spaces", "", ("/usr/bin/dockerd", "--label=a b", " lead", "trail ")),
    ("quotes", "", ("/bin/true", 'say "hi"', "it's", "'", '"')),
    ("backslashes", "", ("/bin/true", "a\\b", "\\", "x\\", "\\;")),
    ("percent", "", ("/bin/true", "100%", "%%", "%h", "a%b%")),
    ("semicolons", "", ("/bin/true", ";", "a;", ";b", "x ; y")),
    ("empty words", "", ("/bin/true", "", "x", "")),
    ("variables", "", ("/usr/bin/dockerd", "$DOCKER_OPTS", "${DOCKER_OPTS}", "pre${X}post", "$$", "$")),
    ("control characters", "", ("/bin/true", "tab\there", "new\nline", "bell\a", "esc\x1b", "del\x7f")),
    ("non-ASCII", "", ("/bin/true", "é", "\U0001F600", "日本")),
    ("raw byte", "", ("/bin/true", b"\xff".decode("utf-8", "surrogateescape"))),
    ("hash", "", ("/usr/bin/dockerd", "#", "#x")),
    ("executable with a space", "-", ("/opt/my dir/dockerd", "-H", "fd://")),
    ("argv0", "@", ("/usr/bin/dockerd", "dockerd-custom", "-H", "fd://")),
    ("all prefixes", "-:+", ("/usr/bin/dockerd", "$X")),
]


@pytest.mark.parametrize(
    ("prefixes", "argv"), [case[1:] for case in ROUND_TRIPS], ids=[case[0] for case in ROUND_TRIPS]
)
def test_format_then_parse_gives_the_same_command(prefixes: str, argv: tuple[str, ...]) -> None:
    command = Command(prefixes, argv)
    assert parse_command_line(format_command_line(command)) == command


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"),
         "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"),
        (("/usr/bin/dockerd", "$DOCKER_OPTS", "${DOCKER_NETWORK_OPTIONS}"),
         "/usr/bin/dockerd $DOCKER_OPTS ${DOCKER_NETWORK_OPTIONS}"),
        (("/bin/true", "100%"), "/bin/true 100%%"),
        (("/bin/true", "a b%"), '/bin/true "a b%%"'),
        (("/bin/true", ";"), "/bin/true \\;"),
        (("/bin/true", ""), '/bin/true ""'),
        (("/bin/true", 'a"b\\c'), '/bin/true "a\\"b\\\\c"'),
        (("/bin/true", "x\ty"), '/bin/true "x\\ty"'),
    ],
)
def test_format_command_line_text(argv: tuple[str, ...], text: str) -> None:
    assert format_command_line(Command("", argv)) == text


def test_format_keeps_prefixes_in_front() -> None:
    assert format_command_line(Command("-", ("/usr/bin/dockerd", "-H", "fd://"))) == "-/usr/bin/dockerd -H fd://"


@pytest.mark.parametrize(
    "command",
    [
        Command("", ()),
        Command("", ("-x",)),
        Command("", ("bin/dockerd",)),
        Command("", ("/usr/bin/my'dockerd",)),
        Command("@", ("/usr/bin/dockerd",)),
    ],
    ids=["no executable", "executable looks like a prefix", "relative path", "quote in executable", "@ without argv0"],
)
def test_format_rejects_unreadable_commands(command: Command) -> None:
    with pytest.raises(InvalidInput):
        format_command_line(command)
