"""systemd units read by dhconf and by a live systemd 252 user manager must agree.

Each test writes units into the test bed's manager (tests/bed/systemd_user.py)
and reloads it. It then compares the D-Bus properties ExecStart, Environment,
DropInPaths, LoadState or UnitPath with what dhconf.sources.unit reads from the
same files. One test also starts a command, to compare variable substitution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from dhconf.findings import ERROR, WARNING
from dhconf.rootfs import RootFS
from dhconf.sources.execstart import Command, expand_variables, format_command_line
from dhconf.sources.unit import LoadedUnit, load_unit, unit_search_paths
from dhconf.sources.unitwords import quote_word
from tests.bed.systemd_user import SystemdUserBed, systemd_user_bed
from tests.sources.unit_cases import CORPUS_SERVICES, corpus_text

pytestmark = pytest.mark.integration


def argvs(unit: LoadedUnit) -> list[tuple[str, ...]]:
    return [command.argv for command, _ in unit.exec_start]


LIVE_LINES = [
    "/usr/bin/dockerd # x --label=\"a b\" 'single\\tq' \"dq\\x41\" \\; \";\" a%%b $DOCKER_OPTS ${X}y \"$Q\" '' \"\"",
    "-@/bin/true argv0 a\"b c\"d 'it''s' \"x\\\"y\" 'x\\'y' a\\w \\s\\u00e9\\101 \\$X $$Y $${Z}",
    ":/bin/true $A ; +/bin/true b \\; c",
    "!!/bin/true",
    "/bin/true ';' \"a;\" x; 100% x% %",
    "/bin/true a\\ b \\xc3\\xa9 \"\\x00\" \\u0000 \\U0001F600 \\x4",
    "docker -d $DOCKER_OPTS ...",
]
LIVE_SYNTAX_ERRORS = [
    ('/bin/true "x', True), ('-/bin/true "x', False), ('"/bin/false', False), ("/bin/true %Z", True),
    ("-/bin/true %Z", False), (r"/bin/tr\ue a", True), ("--/bin/true", False), ("@/bin/true", True),
    ("bin/dockerd", True), ("/usr/bin/", True), ("/bin/it's", False), ("\"/bin/it's\"", True),
]
LIVE_ROUND_TRIPS = [
    Command("", ("/bin/true", "--label=a b", " lead", "trail ", 'say "hi"', "it's", "a\\b", "\\", ";", "a;", "")),
    Command("", ("/bin/true", "100%", "%%", "a%b%", "$DOCKER_OPTS", "${DOCKER_OPTS}", "pre${X}post", "$$", "#")),
    Command("", ("/bin/true", "tab\there", "new\nline", "bell\a", "esc\x1b", "é", "\U0001F600")),
    Command("-@", ("/bin/true", "argv0", "x")),
]
LIVE_ENV = {
    "V1": '--label="a b" -H tcp://127.0.0.1:2375', "V2": "a\\tb 'c d' e\\ f", "V3": "unbalanced 'quote x",
    "V4": "trailing\\", "V5": "", "V6": 'x"y z"w', "V7": "--label owner=it''s'", "E2": "sp ace", "P": "100%",
}
LIVE_WORDS = ["$V1", "--", "$V2", "$V3", "$V4", "$V5", "$V6", "$V7", "--", "$UNSET", "${UNSET}", "pre${E2}post",
              "pre$E2", "$$E2", "$${E2}", "$E2/x", "$", "${}", "$}", "${E2:-x}", "x${E2", "${V1}", "$P"]


@pytest.fixture(scope="module")
def live() -> Iterator[SystemdUserBed]:
    with systemd_user_bed(dockerd=False) as bed:
        bed.systemctl("daemon-reload")
        yield bed


def live_environ(bed: SystemdUserBed) -> dict[str, str]:
    """The environment the bed gives its manager, which decides the user search path."""
    return {**bed.env, "HOME": str(bed.root / "home"), "XDG_DATA_HOME": str(bed.root / "data")}


def busctl(bed: SystemdUserBed, *args: str) -> object:
    try:
        completed = subprocess.run(
            ["busctl", "--user", "--json=short", *args], env={**os.environ, **bed.env},
            capture_output=True, text=True, timeout=60, check=True,
        )
    except subprocess.TimeoutExpired:
        log_tail = bed.manager_log.read_text(errors="replace").splitlines()[-20:]
        pytest.fail(f"busctl {' '.join(args)} timed out after 60 s; systemd --user logged: {log_tail}")
    return json.loads(completed.stdout)["data"]


def live_property(bed: SystemdUserBed, unit: str, interface: str, name: str) -> object:
    (path,) = busctl(bed, "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                     "org.freedesktop.systemd1.Manager", "LoadUnit", "s", unit)
    return busctl(bed, "get-property", "org.freedesktop.systemd1", path, f"org.freedesktop.systemd1.{interface}", name)


def live_load(bed: SystemdUserBed, name: str, text: str) -> LoadedUnit:
    bed.write_unit(name, text)
    bed.systemctl("daemon-reload")
    unit = load_unit(RootFS("/"), name, scope="user", environ=live_environ(bed))
    assert unit is not None
    return unit


def live_commands(bed: SystemdUserBed, name: str) -> list[tuple[str, list[str], bool]]:
    return [(path, argv, ignore) for path, argv, ignore, *_ in live_property(bed, name, "Service", "ExecStart")]


def as_systemd(unit: LoadedUnit) -> list[tuple[str, list[str], bool]]:
    """dhconf's commands the way systemd shows them: with "@", argv starts at the given argv[0]."""
    return [
        (command.argv[0], list(command.argv[1:] if "@" in command.prefixes else command.argv), command.ignores_failure)
        for command, _ in unit.exec_start
    ]


def test_live_user_search_path(live: SystemdUserBed) -> None:
    manager_path = busctl(live, "get-property", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                          "org.freedesktop.systemd1.Manager", "UnitPath")
    assert unit_search_paths("user", live_environ(live)) == manager_path


@pytest.mark.parametrize(("name", "expected", "finding_codes"), CORPUS_SERVICES, ids=[c[0] for c in CORPUS_SERVICES])
def test_live_corpus_unit(live: SystemdUserBed, name: str, expected: list, finding_codes: set[str]) -> None:
    unit_name = f"corpus-{CORPUS_SERVICES.index((name, expected, finding_codes))}.service"
    unit = live_load(live, unit_name, corpus_text(name))
    environment = dict(item.split("=", 1) for item in live_property(live, unit_name, "Service", "Environment"))
    assert (as_systemd(unit), unit.environment) == (live_commands(live, unit_name), environment)
    assert argvs(unit) == expected


def test_live_exec_lines(live: SystemdUserBed) -> None:
    text = "[Service]\nType=oneshot\n" + "".join(f"ExecStart={line}\n" for line in LIVE_LINES)
    unit = live_load(live, "dhconf-lines.service", text)
    commands = live_commands(live, "dhconf-lines.service")
    assert (as_systemd(unit), len(commands)) == (commands, len(LIVE_LINES) + 1)


@pytest.mark.parametrize(("value", "fatal"), LIVE_SYNTAX_ERRORS)
def test_live_syntax_errors(live: SystemdUserBed, value: str, fatal: bool) -> None:
    name = f"dhconf-syntax-{LIVE_SYNTAX_ERRORS.index((value, fatal))}.service"
    unit = live_load(live, name, f"[Service]\nType=oneshot\nExecStart={value}\nExecStart=/bin/true\n")
    load_state = live_property(live, name, "Unit", "LoadState")
    severities = [f.severity for f in unit.findings if f.code == "unit_syntax"]
    assert (load_state, severities) == ("bad-setting" if fatal else "loaded", [ERROR if fatal else WARNING])


def test_live_format_round_trip(live: SystemdUserBed) -> None:
    text = "[Service]\nType=oneshot\n" + "".join(f"ExecStart={format_command_line(c)}\n" for c in LIVE_ROUND_TRIPS)
    live.write_unit("dhconf-format.service", text)
    live.systemctl("daemon-reload")
    expected = [(c.argv[0], list(c.argv[1:] if "@" in c.prefixes else c.argv), "-" in c.prefixes)
                for c in LIVE_ROUND_TRIPS]
    assert live_commands(live, "dhconf-format.service") == expected


def test_live_variable_substitution(live: SystemdUserBed) -> None:
    out = live.root / "argv.json"
    dump = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
    command = Command("", (sys.executable, "-c", dump, str(out), *LIVE_WORDS))
    environment = " ".join(quote_word(f"{name}={value}") for name, value in LIVE_ENV.items())
    live.write_unit("dhconf-expand.service", (
        "[Service]\nType=oneshot\n"
        f"Environment={environment}\n"
        f"ExecStart={format_command_line(command)}\n"
    ))
    live.systemctl("daemon-reload")
    live.systemctl("start", "dhconf-expand.service")
    assert json.loads(out.read_text()) == expand_variables(LIVE_WORDS, LIVE_ENV)


def test_live_dropin_merge(live: SystemdUserBed) -> None:
    config = live.unit_dir
    runtime = live.runtime_dir / "systemd" / "user"
    data = live.root / "data" / "systemd" / "user"
    files = {
        config / "dhconf-mix.service": "[Service]\nType=oneshot\nExecStart=/bin/echo main\n",
        config / "dhconf-mix.service.d/10-a.conf": "[Service]\nExecStart=/bin/echo config-10\n",
        runtime / "dhconf-mix.service.d/10-a.conf": "[Service]\nExecStart=/bin/echo runtime-10\n",
        runtime / "dhconf-mix.service.d/05-b.conf": "[Service]\nExecStart=/bin/echo runtime-05\n",
        data / "dhconf-mix.service.d/30-c.conf": "[Service]\nExecStart=\nExecStart=/bin/echo data-30-reset\n",
        data / "dhconf-mix.service.d/40-d.conf": "[Service]\nExecStart=/bin/echo data-40\n",
        config / "dhconf-.service.d/20-p.conf": "[Service]\nExecStart=/bin/echo prefix-20\n",
        runtime / "dhconf-.service.d/35-p.conf": "[Service]\nExecStart=/bin/echo prefix-35\n",
        # Type drop-ins reach every user service of the bed, so they only set a variable.
        config / "service.d/50-t.conf": "[Service]\nEnvironment=DHCONF_TYPE=config\n",
        runtime / "dhconf-mix.service.d/50-t.conf": "[Service]\nEnvironment=DHCONF_TYPE=unit\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (config / "dhconf-mix.service.d/40-d.conf").symlink_to("/dev/null")
    live.units.append("dhconf-mix.service")
    try:
        live.systemctl("daemon-reload")
        unit = load_unit(RootFS("/"), "dhconf-mix.service", scope="user", environ=live_environ(live))
        dropins = live_property(live, "dhconf-mix.service", "Unit", "DropInPaths")
        environment = live_property(live, "dhconf-mix.service", "Service", "Environment")
        assert unit is not None
        assert (unit.dropin_paths, as_systemd(unit), [f"{k}={v}" for k, v in unit.environment.items()]) == (
            [path for path in dropins if not path.endswith("40-d.conf")],
            live_commands(live, "dhconf-mix.service"),
            environment,
        )
        assert (unit.dropin_paths, argvs(unit), unit.environment) == (
            [str(runtime / "dhconf-mix.service.d/05-b.conf"), str(config / "dhconf-mix.service.d/10-a.conf"),
             str(config / "dhconf-.service.d/20-p.conf"), str(data / "dhconf-mix.service.d/30-c.conf"),
             str(runtime / "dhconf-.service.d/35-p.conf"), str(runtime / "dhconf-mix.service.d/50-t.conf")],
            [("/bin/echo", "data-30-reset"), ("/bin/echo", "prefix-35")],
            {"DHCONF_TYPE": "unit"},
        )
    finally:
        (config / "service.d/50-t.conf").unlink()
        live.systemctl("daemon-reload")
