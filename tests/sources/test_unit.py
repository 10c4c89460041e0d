"""Loading a systemd unit with its drop-ins, on host trees built under tmp_path.

tests/integration/test_unit_live.py loads the same inputs into a real systemd
user manager and compares what it reports over D-Bus with what dhconf reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dhconf.errors import InvalidInput
from dhconf.findings import ERROR, WARNING
from dhconf.rootfs import RootFS
from dhconf.sources.unit import LoadedUnit, load_unit, parse_unit_text, unit_search_paths
from tests.sources.unit_cases import (
    CORPUS_DROPINS,
    CORPUS_SERVICES,
    CORPUS_SOCKETS,
    STOCK,
    STOCK_ARGV,
    corpus_text,
)

SYSTEM_UNIT = "/lib/systemd/system/docker.service"
ETC_DROPINS = "/etc/systemd/system/docker.service.d"


def write(root: Path, host_path: str, text: str) -> Path:
    path = root / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(text)
    return path


def link(root: Path, host_path: str, target: str) -> None:
    path = root / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def argvs(unit: LoadedUnit) -> list[tuple[str, ...]]:
    return [command.argv for command, _ in unit.exec_start]


def codes(unit: LoadedUnit) -> set[str]:
    return {finding.code for finding in unit.findings}


def load(root: Path, name: str = "docker.service") -> LoadedUnit:
    unit = load_unit(RootFS(root), name)
    assert unit is not None, f"{name} not found under {root}"
    return unit


# --- the unit file syntax -------------------------------------------------------------------


def test_continuation_joins_lines_with_a_space() -> None:
    settings, _ = parse_unit_text("[Service]\nExecStart=/usr/bin/dockerd \\\n  -H fd://\n", "/u")
    assert settings[0].value == "/usr/bin/dockerd    -H fd://"


def test_comment_lines_inside_a_continuation_are_skipped() -> None:
    text = "[Service]\nExecStart=/bin/echo a \\\n# comment\n  b \\\n    ; other comment\n  c\n"
    settings, _ = parse_unit_text(text, "/u")
    assert [(s.key, s.value.split()) for s in settings] == [("ExecStart", ["/bin/echo", "a", "b", "c"])]


def test_empty_line_ends_a_continuation() -> None:
    settings, _ = parse_unit_text("[Service]\nExecStart=/bin/echo a \\\n\nType=oneshot\n", "/u")
    assert [s.key for s in settings] == ["ExecStart", "Type"]


def test_even_backslashes_do_not_continue() -> None:
    settings, _ = parse_unit_text("[Service]\nExecStart=/bin/echo x\\\\\nType=oneshot\n", "/u")
    assert [s.value for s in settings] == ["/bin/echo x\\\\", "oneshot"]


def test_continuation_at_the_end_of_the_file() -> None:
    settings, _ = parse_unit_text("[Service]\nExecStart=/bin/echo x \\", "/u")
    assert settings[0].value == "/bin/echo x"


def test_setting_line_is_where_it_starts() -> None:
    settings, _ = parse_unit_text("[Unit]\n\n[Service]\nExecStart=/bin/echo \\\n x\nType=simple\n", "/u")
    assert [(s.key, s.line) for s in settings] == [("ExecStart", 4), ("Type", 6)]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_line_ends(newline: str) -> None:
    text = newline.join(["[Service]", "ExecStart=/usr/bin/dockerd \\", "  -H fd://", "Type=notify", ""])
    settings, _ = parse_unit_text(text, "/u")
    assert [(s.key, s.value.split()) for s in settings] == [
        ("ExecStart", ["/usr/bin/dockerd", "-H", "fd://"]), ("Type", ["notify"])
    ]


def test_byte_order_mark_is_dropped() -> None:
    settings, findings = parse_unit_text("\ufeff[Service]\nType=notify\n", "/u")
    assert (settings[0].section, findings) == ("Service", [])


def test_no_inline_comments_and_blanks_around_equals() -> None:
    settings, _ = parse_unit_text("[Service]\n  ExecStart =  /usr/bin/dockerd # x  \n", "/u")
    assert (settings[0].key, settings[0].value) == ("ExecStart", "/usr/bin/dockerd # x")


def test_assignment_outside_a_section_is_ignored() -> None:
    settings, findings = parse_unit_text("ExecStart=\nExecStart=/usr/bin/dockerd\n", "/d.conf")
    assert (settings, [(f.code, f.severity, f.line) for f in findings]) == (
        [], [("unit_assignment_outside_section", WARNING, 1), ("unit_assignment_outside_section", WARNING, 2)]
    )


@pytest.mark.parametrize("line", ["noequals here", "$FOO", "=foo", "  --x=y z"])
def test_line_that_is_no_setting_is_ignored(line: str) -> None:
    settings, findings = parse_unit_text(f"[Service]\nType=oneshot\n\n{line}\n", "/u")
    assert ([s.key for s in settings], [f.code for f in findings]) == (["Type"], ["unit_line_ignored"])


def test_invalid_section_header_stops_the_file() -> None:
    settings, findings = parse_unit_text("[Service]\nType=notify\n[Foo\nType=oneshot\n", "/u")
    assert ([s.value for s in settings], [(f.code, f.severity) for f in findings]) == (
        ["notify"], [("unit_syntax", ERROR)]
    )


def test_broken_continuation_says_what_systemd_does() -> None:
    name = "user-posted/binary-install-docker.service-broken-continuation"
    settings, findings = parse_unit_text(corpus_text(name), "/etc/systemd/system/docker.service")
    (finding,) = findings
    assert (finding.code, finding.severity, finding.line) == ("unit_broken_continuation", WARNING, 12)
    assert "line 11 does not end in '\\'" in finding.message
    assert "unknown key '--selinux-enabled'" in finding.message
    assert [s.key for s in settings if s.section == "Service"][4:6] == ["ExecStart", "ExecReload"]


# --- every corpus unit -------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected", "finding_codes"), CORPUS_SERVICES, ids=[c[0] for c in CORPUS_SERVICES])
def test_corpus_unit_exec_start(tmp_path: Path, name: str, expected: list[tuple[str, ...]], finding_codes: set[str]) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(name))
    unit = load(tmp_path)
    assert (argvs(unit), codes(unit)) == (expected, finding_codes)


@pytest.mark.parametrize(("name", "expected"), CORPUS_DROPINS, ids=[c[0] for c in CORPUS_DROPINS])
def test_corpus_dropin_exec_start(tmp_path: Path, name: str, expected: list[tuple[str, ...]]) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, f"{ETC_DROPINS}/{Path(name).name}.conf", corpus_text(name))
    unit = load(tmp_path)
    assert (argvs(unit), codes(unit)) == (expected, set())


@pytest.mark.parametrize(("name", "streams"), CORPUS_SOCKETS, ids=[c[0] for c in CORPUS_SOCKETS])
def test_corpus_socket(tmp_path: Path, name: str, streams: list[str]) -> None:
    write(tmp_path, "/lib/systemd/system/docker.socket", corpus_text(name))
    unit = load(tmp_path, "docker.socket")
    assert (unit.values("ListenStream", "Socket"), unit.exec_start, unit.findings) == (streams, [], [])


def test_corpus_environment_files_and_environment(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text("redhat/centos-virt7-docker-1.13.1-10-docker.service"))
    unit = load(tmp_path)
    assert [(ref.path, ref.optional) for ref in unit.environment_files] == [
        ("/run/containers/registries.conf", False), ("/etc/sysconfig/docker", True),
        ("/etc/sysconfig/docker-storage", True), ("/etc/sysconfig/docker-network", True),
    ]
    assert unit.environment == {"GOTRACEBACK": "crash"}


def test_corpus_quoted_environment_value(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text("arch/aur-docker-rootless-user-docker.service"))
    unit = load(tmp_path)
    assert unit.environment["DOCKERD_FLAGS"] == "--experimental --storage-driver=vfs"


# --- drop-ins -----------------------------------------------------------------------------------


def test_dropin_with_a_reset_replaces_exec_start(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, f"{ETC_DROPINS}/override.conf", corpus_text("upstream/docker-docs-remote-access-override.conf"))
    unit = load(tmp_path)
    assert (argvs(unit), unit.exec_start[0][1].path) == (
        [("/usr/bin/dockerd", "-H", "fd://", "-H", "tcp://127.0.0.1:2375")], f"{ETC_DROPINS}/override.conf"
    )


def test_dropin_without_a_reset_gives_two_commands(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    dropin = f"{ETC_DROPINS}/remote.conf"
    write(tmp_path, dropin, corpus_text("user-posted/service-section-fragment-unix-two-slashes"))
    unit = load(tmp_path)
    (finding,) = [f for f in unit.findings if f.code == "execstart_multiple"]
    assert (len(unit.exec_start), finding.severity, finding.path, finding.line) == (2, ERROR, dropin, 2)
    assert "Service has more than one ExecStart= setting" in finding.message
    assert "Add an empty 'ExecStart=' line before line 2" in finding.message


def test_oneshot_may_have_several_commands(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, "[Service]\nType=oneshot\nExecStart=/bin/true a\nExecStart=/bin/true b ; /bin/true c\n")
    unit = load(tmp_path)
    assert (argvs(unit), unit.service_type, unit.findings) == (
        [("/bin/true", "a"), ("/bin/true", "b"), ("/bin/true", "c")], "oneshot", []
    )


def test_reset_in_a_later_dropin_clears_earlier_dropins(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, f"{ETC_DROPINS}/10-a.conf", "[Service]\nExecStart=/bin/a\n")
    write(tmp_path, f"{ETC_DROPINS}/20-b.conf", "[Service]\nExecStart=\nExecStart=/bin/b\n")
    assert argvs(load(tmp_path)) == [("/bin/b",)]


def test_etc_dropin_replaces_lib_dropin(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, "/lib/systemd/system/docker.service.d/50-hosts.conf", "[Service]\nExecStart=\nExecStart=/bin/lib\n")
    write(tmp_path, f"{ETC_DROPINS}/50-hosts.conf", "[Service]\nExecStart=\nExecStart=/bin/etc\n")
    unit = load(tmp_path)
    assert (unit.dropin_paths, argvs(unit)) == ([f"{ETC_DROPINS}/50-hosts.conf"], [("/bin/etc",)])


def test_dropins_apply_in_file_name_order_across_directories(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, "/run/systemd/system/docker.service.d/10-run.conf", "[Service]\nExecStart=\nExecStart=/bin/run\n")
    write(tmp_path, "/lib/systemd/system/docker.service.d/20-lib.conf", "[Service]\nExecStart=\nExecStart=/bin/lib\n")
    write(tmp_path, f"{ETC_DROPINS}/15-etc.conf", "[Service]\nExecStart=\nExecStart=/bin/etc\n")
    unit = load(tmp_path)
    assert (unit.dropin_paths, argvs(unit)) == (
        ["/run/systemd/system/docker.service.d/10-run.conf", f"{ETC_DROPINS}/15-etc.conf",
         "/lib/systemd/system/docker.service.d/20-lib.conf"],
        [("/bin/lib",)],
    )


def test_dropin_linked_to_dev_null_is_masked(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, "/lib/systemd/system/docker.service.d/50-hosts.conf", "[Service]\nExecStart=\nExecStart=/bin/lib\n")
    link(tmp_path, f"{ETC_DROPINS}/50-hosts.conf", "/dev/null")
    unit = load(tmp_path)
    assert (unit.dropin_paths, argvs(unit), codes(unit)) == ([], [STOCK_ARGV], {"dropin_masked"})


def test_type_dropin_loses_to_unit_dropin(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, "/etc/systemd/system/service.d/50-x.conf", "[Service]\nEnvironment=FROM=type\n")
    write(tmp_path, "/lib/systemd/system/docker.service.d/50-x.conf", "[Service]\nEnvironment=FROM=unit\n")
    write(tmp_path, "/etc/systemd/system/service.d/60-y.conf", "[Service]\nEnvironment=LATER=type\n")
    unit = load(tmp_path)
    assert (unit.dropin_paths, unit.environment) == (
        ["/lib/systemd/system/docker.service.d/50-x.conf", "/etc/systemd/system/service.d/60-y.conf"],
        {"FROM": "unit", "LATER": "type"},
    )


def test_dash_prefix_dropins(tmp_path: Path) -> None:
    write(tmp_path, "/etc/systemd/system/docker-rootless.service", "[Service]\nExecStart=/bin/main\n")
    write(tmp_path, "/etc/systemd/system/docker-.service.d/50-x.conf", "[Service]\nEnvironment=FROM=prefix\n")
    write(tmp_path, "/lib/systemd/system/docker-rootless.service.d/50-x.conf", "[Service]\nEnvironment=FROM=unit\n")
    write(tmp_path, "/etc/systemd/system/docker-.service.d/10-y.conf", "[Service]\nEnvironment=EARLY=prefix\n")
    unit = load(tmp_path, "docker-rootless.service")
    assert (unit.dropin_paths, unit.environment) == (
        ["/etc/systemd/system/docker-.service.d/10-y.conf", "/etc/systemd/system/docker-.service.d/50-x.conf"],
        {"EARLY": "prefix", "FROM": "prefix"},
    )


def test_first_unit_file_in_the_search_path_wins(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, "/etc/systemd/system/docker.service", "[Service]\nExecStart=/bin/etc\n")
    unit = load(tmp_path)
    assert (unit.fragment_path, argvs(unit)) == ("/etc/systemd/system/docker.service", [("/bin/etc",)])


def test_dropins_apply_to_a_unit_overridden_in_etc(tmp_path: Path) -> None:
    write(tmp_path, "/etc/systemd/system/docker.service", corpus_text(STOCK))
    write(tmp_path, "/lib/systemd/system/docker.service.d/10.conf", "[Service]\nExecStart=\nExecStart=/bin/lib\n")
    assert argvs(load(tmp_path)) == [("/bin/lib",)]


@pytest.mark.parametrize("how", ["symlink", "empty file"])
def test_masked_unit(tmp_path: Path, how: str) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    if how == "symlink":
        link(tmp_path, "/etc/systemd/system/docker.service", "/dev/null")
    else:
        write(tmp_path, "/etc/systemd/system/docker.service", "")
    write(tmp_path, f"{ETC_DROPINS}/override.conf", corpus_text("upstream/docker-docs-remote-access-override.conf"))
    unit = load(tmp_path)
    assert (unit.masked, unit.fragment_path, unit.exec_start, codes(unit)) == (
        True, "/etc/systemd/system/docker.service", [], {"unit_masked"}
    )


def test_unit_with_only_dropins(tmp_path: Path) -> None:
    write(tmp_path, f"{ETC_DROPINS}/override.conf", corpus_text("upstream/docker-docs-remote-access-override.conf"))
    unit = load(tmp_path)
    assert (unit.fragment_path, unit.dropin_paths, codes(unit)) == (
        None, [f"{ETC_DROPINS}/override.conf"], {"unit_fragment_missing"}
    )


def test_missing_unit_is_none(tmp_path: Path) -> None:
    write(tmp_path, "/lib/systemd/system/containerd.service", "[Service]\nExecStart=/usr/bin/containerd\n")
    assert load_unit(RootFS(tmp_path), "docker.service") is None


def test_symlinked_unit_file_is_read_inside_the_root(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    link(tmp_path, "/etc/systemd/system/docker.service", SYSTEM_UNIT)
    assert argvs(load(tmp_path)) == [STOCK_ARGV]


# --- findings on ExecStart ----------------------------------------------------------------------


def test_missing_exec_start(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, corpus_text(STOCK))
    write(tmp_path, f"{ETC_DROPINS}/reset.conf", "[Service]\nExecStart=\n")
    unit = load(tmp_path)
    (finding,) = unit.findings
    assert (finding.code, finding.severity) == ("execstart_missing", ERROR)


@pytest.mark.parametrize(
    ("exec_start", "severity", "argv"),
    [
        # systemd rejects the whole unit, but the commands it could read stay visible.
        ('/usr/bin/dockerd --label="a b', ERROR, [("/bin/after",)]),
        ('-/usr/bin/dockerd --label="a b', WARNING, [("/bin/after",)]),
    ],
    ids=["fatal", "ignored with the - prefix"],
)
def test_unterminated_quote_in_exec_start(tmp_path: Path, exec_start: str, severity: str, argv: list) -> None:
    write(tmp_path, SYSTEM_UNIT, f"[Service]\nExecStart={exec_start}\nExecStart=/bin/after\n")
    unit = load(tmp_path)
    assert ([(f.code, f.severity, f.line) for f in unit.findings], argvs(unit)) == (
        [("unit_syntax", severity, 2)], argv
    )


def test_syntax_error_in_another_exec_setting(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, "[Service]\nExecStartPre=/bin/true 'x\nExecStart=/usr/bin/dockerd\n")
    unit = load(tmp_path)
    assert ([(f.code, f.severity) for f in unit.findings], argvs(unit)) == (
        [("unit_syntax", ERROR)], [("/usr/bin/dockerd",)]
    )


def test_specifier_in_exec_start_is_reported(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, "[Service]\nExecStart=/usr/bin/dockerd -H unix://%t/docker.sock 100%%\n")
    unit = load(tmp_path)
    assert ([(f.code, f.severity) for f in unit.findings], argvs(unit)) == (
        [("execstart_specifier", WARNING)], [("/usr/bin/dockerd", "-H", "unix://%t/docker.sock", "100%")]
    )


# --- Environment= and EnvironmentFile= ------------------------------------------------------------


def test_environment_words_later_wins_and_reset(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, (
        "[Service]\nExecStart=/bin/true\n"
        'Environment=DOCKERD_FLAGS="--experimental --storage-driver=vfs" "PATH=/x:$PATH"\n'
        "Environment=A=1 B 9X=2 C=3\n"
        "Environment=D=first E=\\w F=after\n"
        'Environment=G=%% H="tab\\there" A=override\n'
    ))
    write(tmp_path, f"{ETC_DROPINS}/env.conf", "[Service]\nEnvironment=\nEnvironment=I=after-reset A=again\n")
    unit = load(tmp_path)
    assert unit.values("Environment")[-1] == "I=after-reset A=again"
    assert unit.environment == {"I": "after-reset", "A": "again"}


def test_environment_assignments_systemd_ignores(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, (
        "[Service]\nExecStart=/bin/true\n"
        'Environment=DOCKERD_FLAGS="--experimental --storage-driver=vfs" "PATH=/x:$PATH"\n'
        "Environment=A=1 B 9X=2 C=3\n"
        "Environment=D=first E=\\w F=after\n"
        'Environment=G=%% H="tab\\there" J=\'single "q"\'\n'
    ))
    unit = load(tmp_path)
    assert unit.environment == {
        "DOCKERD_FLAGS": "--experimental --storage-driver=vfs", "PATH": "/x:$PATH", "A": "1", "C": "3",
        "D": "first", "G": "%", "H": "tab\there", "J": 'single "q"',
    }
    assert [(f.code, f.line) for f in unit.findings] == [
        ("unit_setting_ignored", 4), ("unit_setting_ignored", 4), ("unit_setting_ignored", 5)
    ]


def test_environment_files_optional_reset_and_relative(tmp_path: Path) -> None:
    write(tmp_path, SYSTEM_UNIT, (
        "[Service]\nExecStart=/bin/true\n"
        "EnvironmentFile=/etc/sysconfig/gone\n"
        "EnvironmentFile=\n"
        "EnvironmentFile=-/etc/default/docker\n"
        "EnvironmentFile=relative/path\n"
        "EnvironmentFile=/etc/a /etc/b\n"
    ))
    unit = load(tmp_path)
    assert [(ref.path, ref.optional, ref.setting.line) for ref in unit.environment_files] == [
        ("/etc/default/docker", True, 5), ("/etc/a /etc/b", False, 7)
    ]
    assert [(f.code, f.line) for f in unit.findings] == [("unit_setting_ignored", 6)]


# --- search paths -------------------------------------------------------------------------------


def test_system_search_path() -> None:
    assert unit_search_paths("system") == [
        "/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
        "/run/systemd/generator.early", "/etc/systemd/system", "/etc/systemd/system.attached",
        "/run/systemd/system", "/run/systemd/system.attached", "/run/systemd/generator",
        "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
        "/run/systemd/generator.late",
    ]


def test_user_search_path_with_xdg_variables() -> None:
    environ = {"HOME": "/home/u", "XDG_RUNTIME_DIR": "/r", "XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d",
               "XDG_CONFIG_DIRS": "/x1:/x2", "XDG_DATA_DIRS": "/y1::rel:/y2"}
    assert unit_search_paths("user", environ) == [
        "/c/systemd/user.control", "/r/systemd/user.control", "/r/systemd/transient", "/r/systemd/generator.early",
        "/c/systemd/user", "/x1/systemd/user", "/x2/systemd/user", "/etc/systemd/user", "/r/systemd/user",
        "/run/systemd/user", "/r/systemd/generator", "/d/systemd/user", "/y1/systemd/user", "/y2/systemd/user",
        "/usr/local/lib/systemd/user", "/usr/local/share/systemd/user", "/usr/lib/systemd/user",
        "/usr/share/systemd/user", "/r/systemd/generator.late",
    ]


def test_user_search_path_defaults_without_a_runtime_dir() -> None:
    assert unit_search_paths("user", {"HOME": "/home/u"}) == [
        "/home/u/.config/systemd/user.control", "/home/u/.config/systemd/user", "/etc/xdg/systemd/user",
        "/etc/systemd/user", "/run/systemd/user", "/home/u/.local/share/systemd/user",
        "/usr/local/share/systemd/user", "/usr/share/systemd/user", "/usr/local/lib/systemd/user",
        "/usr/lib/systemd/user",
    ]


@pytest.mark.parametrize(
    ("scope", "environ"), [("user", {}), ("user", {"HOME": "relative"}), ("machine", {})],
    ids=["no HOME", "relative HOME", "unknown scope"],
)
def test_search_path_invalid_input(scope: str, environ: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        unit_search_paths(scope, environ)


def test_user_unit_is_found_in_xdg_config_home(tmp_path: Path) -> None:
    environ = {"HOME": "/home/u", "XDG_CONFIG_HOME": "/home/u/cfg", "XDG_RUNTIME_DIR": "/run/user/1000"}
    text = corpus_text("rootless/setuptool-generated-user-docker.service-requires-dbus")
    write(tmp_path, "/usr/lib/systemd/user/docker.service", corpus_text(STOCK))
    write(tmp_path, "/home/u/cfg/systemd/user/docker.service", text)
    write(tmp_path, "/run/user/1000/systemd/user/docker.service.d/mtu.conf",
          corpus_text("rootless/user-docker.service.d-override.conf-env-only"))
    unit = load_unit(RootFS(tmp_path), "docker.service", scope="user", environ=environ)
    assert unit is not None
    assert (unit.fragment_path, argvs(unit), unit.environment["DOCKERD_ROOTLESS_ROOTLESSKIT_MTU"]) == (
        "/home/u/cfg/systemd/user/docker.service", [("/usr/bin/dockerd-rootless.sh",)], "1420"
    )
