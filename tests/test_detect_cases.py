"""``dhconf detect`` on hand-picked cases: common mistakes, bad input, this machine, and --help.

Expected values come from reading the files as systemd, /bin/sh and dockerd
do. Where a real reader can confirm them (systemd in a user manager, /bin/sh),
a test checks with it too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dhconf.detect import detect
from dhconf.rootfs import RootFS
from dhconf.sources.envfile import parse_environment_file
from tests.trees import OS_RELEASE, Corpus, RealSystemd, corpus_path, make_tree, real_systemd, sh_value

REPO = Path(__file__).resolve().parent.parent

UPSTREAM_1706_UNIT = "upstream/moby-v17.06-docker.service"  # ExecStart=/usr/bin/dockerd -H fd://
UPSTREAM_SOCKET = "upstream/moby-v29.0.0-docker.socket"
UPSTREAM_DEFAULT = "upstream/moby-v29.0.0-sysvinit-debian-docker.default"
UPSTREAM_SYSV_INIT = "upstream/moby-v29.0.0-sysvinit-debian-docker.init"
UPSTREAM_RPM_UNIT = "upstream/moby-v20.10.0-docker.service.rpm"
REDHAT_UNIT = "redhat/centos-virt7-docker-1.13.1-10-docker.service"
REDHAT_SYSCONFIG = "redhat/centos-virt7-docker-1.13.1-17-sysconfig-docker"
# Not in the corpus: registries.service writes it at boot, and the Red Hat unit requires it.
REGISTRIES_CONF = "REGISTRIES='--add-registry registry.access.redhat.com'\n"


def _text(relative: str) -> str:
    return corpus_path(relative).read_text()


def _detect_json(root: Path, **options: object) -> dict:
    return detect(RootFS(root), environ={}, **options).to_json()


def _codes(document: dict) -> set[str]:
    return {finding["code"] for finding in document["findings"]}


def _finding(document: dict, code: str) -> dict:
    found = [finding for finding in document["findings"] if finding["code"] == code]
    assert len(found) == 1, document["findings"]
    return found[0]


def _source(document: dict, kind: str, path: str, variable: str | None) -> dict:
    found = [
        source for source in document["sources"]
        if (source["kind"], source["path"], source["variable"]) == (kind, path, variable)
    ]
    assert len(found) == 1, document["sources"]
    return found[0]


@pytest.fixture(scope="module")
def systemd() -> Iterator[RealSystemd]:
    with real_systemd() as manager:
        yield manager


# The upstream unit reads no /etc/default/docker.


def _upstream_unit_with_default(root: Path) -> Path:
    return make_tree(root, os_release=OS_RELEASE["ubuntu-16.04"], systemd=True, files={
        "/lib/systemd/system/docker.service": corpus_path(UPSTREAM_1706_UNIT),
        "/lib/systemd/system/docker.socket": corpus_path(UPSTREAM_SOCKET),
        # The packaged default file with its DOCKER_OPTS line filled in by an admin.
        "/etc/default/docker": _text(UPSTREAM_DEFAULT) + 'DOCKER_OPTS="-H tcp://127.0.0.1:2375"\n',
    })


def test_upstream_unit_hosts_ignore_etc_default(tmp_path: Path) -> None:
    document = _detect_json(_upstream_unit_with_default(tmp_path))
    assert document["hosts"] == ["fd://"]


def test_upstream_unit_reports_unread_docker_opts(tmp_path: Path) -> None:
    finding = _finding(_detect_json(_upstream_unit_with_default(tmp_path)), "options_not_read")
    assert (finding["path"], finding["severity"]) == ("/etc/default/docker", "warning")
    assert "DOCKER_OPTS" in finding["message"]


def test_upstream_unit_lists_etc_default_as_not_effective(tmp_path: Path) -> None:
    document = _detect_json(_upstream_unit_with_default(tmp_path))
    source = _source(document, "shell-file", "/etc/default/docker", "DOCKER_OPTS")
    assert (source["effective"], source["hosts"]) == (False, ["tcp://127.0.0.1:2375"])


def test_upstream_unit_findings_are_only_the_unread_options(tmp_path: Path) -> None:
    assert _codes(_detect_json(_upstream_unit_with_default(tmp_path))) == {"options_not_read"}


# Red Hat's unit expands $OPTIONS from /etc/sysconfig/docker, never $DOCKER_OPTS.

REDHAT_OPTIONS = "OPTIONS='--selinux-enabled -H tcp://0.0.0.0:2376 -H unix:///var/run/docker.sock'"
REDHAT_DOCKER_OPTS = 'DOCKER_OPTS="-H tcp://127.0.0.1:2375"'


def _centos_with_options(root: Path) -> Path:
    sysconfig = _text(REDHAT_SYSCONFIG).replace(
        "OPTIONS='--selinux-enabled --log-driver=journald'\n", f"{REDHAT_OPTIONS}\n{REDHAT_DOCKER_OPTS}\n"
    )
    assert REDHAT_DOCKER_OPTS in sysconfig, "the corpus sysconfig no longer has the OPTIONS line to replace"
    return make_tree(root, os_release=OS_RELEASE["centos-7"], systemd=True, files={
        "/usr/lib/systemd/system/docker.service": corpus_path(REDHAT_UNIT),
        "/etc/sysconfig/docker": sysconfig,
        "/run/containers/registries.conf": REGISTRIES_CONF,
    })


def test_redhat_hosts_come_from_options(tmp_path: Path) -> None:
    document = _detect_json(_centos_with_options(tmp_path))
    assert sorted(document["hosts"]) == ["tcp://0.0.0.0:2376", "unix:///var/run/docker.sock"]


def test_redhat_options_source_is_effective(tmp_path: Path) -> None:
    source = _source(_detect_json(_centos_with_options(tmp_path)), "env-file", "/etc/sysconfig/docker", "OPTIONS")
    assert (source["effective"], source["line"]) == (True, 4)


def test_redhat_docker_opts_is_reported_unread(tmp_path: Path) -> None:
    finding = _finding(_detect_json(_centos_with_options(tmp_path)), "options_not_read")
    assert (finding["path"], finding["line"]) == ("/etc/sysconfig/docker", 5)
    assert "DOCKER_OPTS" in finding["message"]


def test_redhat_wildcard_tcp_without_tls_is_insecure(tmp_path: Path) -> None:
    finding = _finding(_detect_json(_centos_with_options(tmp_path)), "insecure_tcp")
    assert "tcp://0.0.0.0:2376" in finding["message"]


def test_redhat_finding_codes(tmp_path: Path) -> None:
    # envfile_ignored_line: the sysconfig's "if [ -z ... ]; then" and "fi" lines, which systemd skips.
    codes = _codes(_detect_json(_centos_with_options(tmp_path)))
    assert codes == {"options_not_read", "insecure_tcp", "envfile_ignored_line"}


# -H in the unit and "hosts" in daemon.json: dockerd refuses to start.


def test_flags_and_daemon_json_hosts_conflict(tmp_path: Path) -> None:
    root = make_tree(tmp_path, os_release=OS_RELEASE["ubuntu-16.04"], systemd=True, files={
        "/lib/systemd/system/docker.service": corpus_path(UPSTREAM_1706_UNIT),
        "/lib/systemd/system/docker.socket": corpus_path(UPSTREAM_SOCKET),
        "/etc/docker/daemon.json": '{"hosts": ["tcp://127.0.0.1:2375"]}\n',
    })
    finding = _finding(_detect_json(root), "hosts_conflict")
    assert (finding["severity"], finding["path"]) == ("error", "/etc/docker/daemon.json")


# A drop-in that adds ExecStart= without resetting it first.

DROPIN_WITHOUT_RESET = "[Service]\nExecStart=/usr/bin/dockerd -H fd:// -H tcp://127.0.0.1:2375\n"
DROPIN_WITH_RESET = "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// -H tcp://127.0.0.1:2375\n"


def test_dropin_without_reset_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path, os_release=OS_RELEASE["ubuntu-16.04"], systemd=True, files={
        "/lib/systemd/system/docker.service": corpus_path(UPSTREAM_1706_UNIT),
        "/lib/systemd/system/docker.socket": corpus_path(UPSTREAM_SOCKET),
        "/etc/systemd/system/docker.service.d/tcp.conf": DROPIN_WITHOUT_RESET,
    })
    finding = _finding(_detect_json(root), "execstart_multiple")
    assert (finding["severity"], finding["path"], finding["line"]) == (
        "error", "/etc/systemd/system/docker.service.d/tcp.conf", 2
    )


def test_dropin_with_reset_is_accepted(tmp_path: Path) -> None:
    root = make_tree(tmp_path, os_release=OS_RELEASE["ubuntu-16.04"], systemd=True, files={
        "/lib/systemd/system/docker.service": corpus_path(UPSTREAM_1706_UNIT),
        "/lib/systemd/system/docker.socket": corpus_path(UPSTREAM_SOCKET),
        "/etc/systemd/system/docker.service.d/tcp.conf": DROPIN_WITH_RESET,
    })
    document = _detect_json(root)
    assert "execstart_multiple" not in _codes(document)
    assert document["hosts"] == ["fd://", "tcp://127.0.0.1:2375"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("dropin", "load_state"), [(DROPIN_WITHOUT_RESET, "bad-setting"), (DROPIN_WITH_RESET, "loaded")],
    ids=["without-reset", "with-reset"],
)
def test_real_systemd_agrees_on_the_reset(dropin: str, load_state: str, systemd: RealSystemd) -> None:
    assert systemd.load_state(_text(UPSTREAM_1706_UNIT), {"tcp.conf": dropin}) == load_state


# Ubuntu 14.04's docker.io: the upstart job and its default file are named docker.io.

UPSTART_DOCKER_OPTS = 'DOCKER_OPTS="-H tcp://127.0.0.1:4243 -H unix:///var/run/docker.sock"'


def _ubuntu_1404_docker_io(root: Path) -> Path:
    return make_tree(root, os_release=OS_RELEASE["ubuntu-14.04"], systemd=False, files={
        "/etc/init/docker.io.conf": corpus_path("ubuntu/docker.io-0.9.1-upstart-docker.conf"),
        "/etc/init.d/docker.io": corpus_path("debian/docker.io-0.9.1-init.d-docker"),
        "/etc/default/docker.io": _text("debian/docker.io-0.9.1-etc-default-docker") + UPSTART_DOCKER_OPTS + "\n",
        "/sbin/initctl": "#!/bin/sh\n# stand-in for upstart's initctl\n",
    })


def test_upstart_docker_io_service_name(tmp_path: Path) -> None:
    document = _detect_json(_ubuntu_1404_docker_io(tmp_path))
    assert (document["service"], document["platform"]["init"]) == ("docker.io", "upstart")


def test_upstart_docker_io_source(tmp_path: Path) -> None:
    document = _detect_json(_ubuntu_1404_docker_io(tmp_path))
    source = _source(document, "shell-file", "/etc/default/docker.io", "DOCKER_OPTS")
    assert (source["effective"], source["reader"]) == (True, "sh")
    assert source["hosts"] == ["tcp://127.0.0.1:4243", "unix:///var/run/docker.sock"]


def test_upstart_docker_io_hosts(tmp_path: Path) -> None:
    document = _detect_json(_ubuntu_1404_docker_io(tmp_path))
    assert sorted(document["hosts"]) == ["tcp://127.0.0.1:4243", "unix:///var/run/docker.sock"]


def test_upstart_docker_io_value_from_real_sh(tmp_path: Path) -> None:
    root = _ubuntu_1404_docker_io(tmp_path)
    assert sh_value(root / "etc/default/docker.io", "DOCKER_OPTS") == (
        "-H tcp://127.0.0.1:4243 -H unix:///var/run/docker.sock"
    )


def test_upstart_docker_io_binary(tmp_path: Path) -> None:
    document = _detect_json(_ubuntu_1404_docker_io(tmp_path))
    assert document["command"]["argv"][:2] == ["/usr/bin/docker.io", "-d"]


# A double-quoted value whose closing quote is on the next line.

MULTILINE_SYSCONFIG = (
    "# /etc/sysconfig/docker\n"
    'OPTIONS="-H unix:///var/run/docker.sock\n'
    '"\n'
    "DOCKER_CERT_PATH=/etc/docker\n"
)
# systemd keeps the newline inside the quotes; $OPTIONS splits at it like at a blank.
MULTILINE_VALUE = "-H unix:///var/run/docker.sock\n"
MULTILINE_WORDS = ["-H", "unix:///var/run/docker.sock"]


def _centos_with_multiline_options(root: Path) -> Path:
    return make_tree(root, os_release=OS_RELEASE["centos-7"], systemd=True, files={
        "/usr/lib/systemd/system/docker.service": corpus_path(REDHAT_UNIT),
        "/etc/sysconfig/docker": MULTILINE_SYSCONFIG,
        "/run/containers/registries.conf": REGISTRIES_CONF,
    })


def test_multiline_value_as_dhconf_reads_it() -> None:
    parsed = parse_environment_file(MULTILINE_SYSCONFIG, "/etc/sysconfig/docker")
    assert parsed.values == {"OPTIONS": MULTILINE_VALUE, "DOCKER_CERT_PATH": "/etc/docker"}


@pytest.mark.integration
def test_multiline_value_as_systemd_reads_it(tmp_path: Path, systemd: RealSystemd) -> None:
    env_file = tmp_path / "docker"
    env_file.write_text(MULTILINE_SYSCONFIG)
    value, words = systemd.read_environment_file(env_file, "OPTIONS")
    assert value == MULTILINE_VALUE
    assert words == MULTILINE_WORDS


def test_multiline_value_reaches_the_command_line(tmp_path: Path) -> None:
    document = _detect_json(_centos_with_multiline_options(tmp_path))
    argv = document["command"]["argv"]
    assert argv[-4:-2] == MULTILINE_WORDS  # $OPTIONS comes before $DOCKER_STORAGE_OPTIONS ... $REGISTRIES
    assert document["hosts"] == ["unix:///var/run/docker.sock"]


def test_multiline_value_gets_a_finding(tmp_path: Path) -> None:
    document = _detect_json(_centos_with_multiline_options(tmp_path))
    about_line_2 = [
        finding for finding in document["findings"]
        if finding.get("path") == "/etc/sysconfig/docker" and finding.get("line") == 2
    ]
    assert about_line_2, document["findings"]


# Bad input, through the CLI: a finding or one clear error that names the file, never a traceback.


@dataclass(frozen=True)
class BadInput:
    name: str
    os: str
    systemd: bool
    files: dict[str, str | bytes | Corpus]
    directories: tuple[str, ...]
    exit_code: int
    code: str  # the finding code, or the error code when the run fails
    path: str
    line: int | None


BAD_INPUTS = [
    # EISDIR stops root as much as anyone.
    BadInput("directory-instead-of-etc-default", "debian-12", False,
             {"/etc/init.d/docker": Corpus(UPSTREAM_SYSV_INIT)}, ("/etc/default/docker",),
             0, "source_unreadable", "/etc/default/docker", None),
    BadInput("directory-instead-of-daemon-json", "debian-12", True,
             {"/lib/systemd/system/docker.service": Corpus(UPSTREAM_RPM_UNIT)}, ("/etc/docker/daemon.json",),
             0, "source_unreadable", "/etc/docker/daemon.json", None),
    BadInput("binary-environment-file", "centos-7", True,
             {"/usr/lib/systemd/system/docker.service": Corpus(REDHAT_UNIT),
              "/run/containers/registries.conf": REGISTRIES_CONF,
              "/etc/sysconfig/docker": b"OPTIONS='--selinux-enabled'\n\x00\x00\x7fELF\x02\x01\x01\n"}, (),
             0, "source_unreadable", "/etc/sysconfig/docker", None),
    BadInput("binary-unit-file", "debian-12", True,
             {"/lib/systemd/system/docker.service": b"\x7fELF\x02\x01\x01\x00\x00[Service]\n"}, (),
             1, "source_error", "/lib/systemd/system/docker.service", None),
    BadInput("truncated-daemon-json", "debian-12", True,
             {"/lib/systemd/system/docker.service": Corpus(UPSTREAM_RPM_UNIT),
              "/etc/docker/daemon.json": '{\n  "hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"'}, (),
             0, "daemon_json_invalid", "/etc/docker/daemon.json", 2),
    # sh stops at the unterminated quote; an init script under "set -e" dies there.
    BadInput("truncated-etc-default", "debian-12", False,
             {"/etc/init.d/docker": Corpus(UPSTREAM_SYSV_INIT),
              "/etc/default/docker": '# Docker\nDOCKER_OPTS="-H tcp://127.0.0.1:2375 -H unix:///var/'}, (),
             0, "shell_exits", "/etc/default/docker", 2),
    # systemd takes everything up to the end of the file as the value.
    BadInput("truncated-environment-file", "centos-7", True,
             {"/usr/lib/systemd/system/docker.service": Corpus(REDHAT_UNIT),
              "/run/containers/registries.conf": REGISTRIES_CONF,
              "/etc/sysconfig/docker": '# /etc/sysconfig/docker\nOPTIONS="-H unix:///var/run/docker.sock\n'}, (),
             0, "envfile_unterminated_quote", "/etc/sysconfig/docker", 2),
    BadInput("daemon-json-not-json", "debian-12", True,
             {"/lib/systemd/system/docker.service": Corpus(UPSTREAM_RPM_UNIT),
              "/etc/docker/daemon.json": "hosts: [tcp://127.0.0.1:2375]\n"}, (),
             0, "daemon_json_invalid", "/etc/docker/daemon.json", 1),
    BadInput("unit-with-unterminated-quote", "debian-12", True,
             {"/lib/systemd/system/docker.service":
              '[Service]\nType=notify\nExecStart=/usr/bin/dockerd -H fd:// --label "owner=ops\n'}, (),
             0, "unit_syntax", "/lib/systemd/system/docker.service", 3),
]


def _bad_tree(case: BadInput, root: Path) -> Path:
    make_tree(root, os_release=OS_RELEASE[case.os], systemd=case.systemd, files=case.files)
    for directory in case.directories:
        (root / directory.lstrip("/")).mkdir(parents=True)
    return root


def run_dhconf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dhconf", *args], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda case: case.name)
def test_bad_input_json(case: BadInput, tmp_path: Path) -> None:
    completed = run_dhconf("--root", str(_bad_tree(case, tmp_path)), "--json", "detect")
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode == case.exit_code, completed.stderr
    document = json.loads(completed.stdout)
    reported = _finding(document, case.code) if case.exit_code == 0 else document["error"]
    assert (reported["code"], reported["path"], reported.get("line")) == (case.code, case.path, case.line)


def _human_params() -> list:
    return [pytest.param(case, id=case.name) for case in BAD_INPUTS]


@pytest.mark.parametrize("case", _human_params())
def test_bad_input_human(case: BadInput, tmp_path: Path) -> None:
    completed = run_dhconf("--root", str(_bad_tree(case, tmp_path)), "detect")
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode == case.exit_code, completed.stderr
    if case.exit_code == 0:
        reported = [line for line in completed.stdout.splitlines() if f"[{case.code}]" in line]
    else:
        reported = [line for line in completed.stderr.splitlines() if line.startswith("dhconf: error:")]
    assert len(reported) == 1, completed.stdout + completed.stderr
    assert case.path in reported[0]


@pytest.mark.integration
def test_real_systemd_refuses_unit_with_unterminated_quote(systemd: RealSystemd) -> None:
    unit = '[Service]\nType=notify\nExecStart=/usr/bin/dockerd -H fd:// --label "owner=ops\n'
    assert systemd.load_state(unit) == "bad-setting"


@pytest.mark.integration
def test_real_systemd_reads_truncated_quote_to_the_end(tmp_path: Path, systemd: RealSystemd) -> None:
    env_file = tmp_path / "docker"
    env_file.write_text('# /etc/sysconfig/docker\nOPTIONS="-H unix:///var/run/docker.sock\n')
    value, words = systemd.read_environment_file(env_file, "OPTIONS")
    assert value == "-H unix:///var/run/docker.sock\n"
    assert words == ["-H", "unix:///var/run/docker.sock"]


# This machine, read only.

_READ_ONLY_DIRECTORIES = ("/etc", "/var", "/run", "/usr")
# Bind each directory over itself read-only, in a private mount namespace only.
_READ_ONLY_SCRIPT = (
    'for d in ' + " ".join(_READ_ONLY_DIRECTORIES) + '; do '
    'mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 99; done; exec "$@"'
)


def _this_machine_is_as_expected() -> str | None:
    if os.path.isdir("/run/systemd/system"):
        return "systemd is running on this machine"
    if not os.path.isfile("/etc/init.d/docker") or not os.path.isfile("/etc/default/docker"):
        return "docker.io's /etc/init.d/docker and /etc/default/docker are not installed here"
    if os.geteuid() != 0:
        return "a private mount namespace needs root"
    return None


def _machine_state() -> tuple:
    """Return what a detect run that writes would change: docker's files and dhconf's state directory."""
    state_dir = "/var/lib/dhconf"
    return (
        sorted(os.listdir("/etc/docker")),
        os.stat("/etc/default/docker").st_mtime_ns,
        sorted(os.listdir(state_dir)) if os.path.isdir(state_dir) else None,
    )


@pytest.fixture(scope="module")
def this_machine() -> dict:
    """``dhconf --root / --json detect`` run where /etc, /var, /run and /usr are read-only."""
    reason = _this_machine_is_as_expected()
    if reason:
        pytest.skip(f"this test reads a Debian 12 machine with docker.io and no systemd: {reason}")
    before = _machine_state()
    completed = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", _READ_ONLY_SCRIPT, "sh",
         sys.executable, "-m", "dhconf", "--root", "/", "--json", "detect"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    assert _machine_state() == before
    return json.loads(completed.stdout)


def test_this_machine_init_is_sysvinit(this_machine: dict) -> None:
    assert this_machine["platform"]["init"] == "sysvinit"


def test_this_machine_source_is_etc_default_docker(this_machine: dict) -> None:
    source = _source(this_machine, "shell-file", "/etc/default/docker", "DOCKER_OPTS")
    assert source["effective"] is True


def test_this_machine_is_debian(this_machine: dict) -> None:
    assert (this_machine["platform"]["id"], this_machine["platform"]["family"]) == ("debian", "debian")


# --help on the program and on every command.

COMMANDS = ["detect", "show", "set", "add", "remove", "probe", "rollback"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero(command: str | None) -> None:
    completed = run_dhconf(*([command] if command else []), "--help")
    assert completed.returncode == 0, completed.stderr
    assert "Usage:" in completed.stdout


def _click_commands() -> dict:
    """Return the click command of the program and of each command, by name."""
    import typer.main

    from dhconf.cli import app

    group = typer.main.get_command(app)
    return {"dhconf": group, **{name: group.commands[name] for name in COMMANDS}}


def test_every_command_is_known() -> None:
    import typer.main

    from dhconf.cli import app

    assert sorted(typer.main.get_command(app).commands) == sorted(COMMANDS)


@pytest.mark.parametrize("name", ["dhconf", *COMMANDS])
def test_every_option_has_help(name: str) -> None:
    command = _click_commands()[name]
    context = command.context_class(command, info_name=name)
    undocumented = [
        param.name for param in command.get_params(context)
        if param.param_type_name == "option" and not (param.help or "").strip()
    ]
    assert undocumented == []
