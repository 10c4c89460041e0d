"""set, add and remove on --root host trees, through the CLI, checked with the real readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DHCONF_CORPUS", REPO.parent / "shared" / "corpus"))

UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'
CENTOS = 'NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
DEBIAN = 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n'

UPSTREAM_UNIT = "upstream/moby-v29.0.0-docker.service"
UPSTREAM_SOCKET = "upstream/moby-v29.0.0-docker.socket"
# A Debian-style docker.io unit: EnvironmentFile=-/etc/default/docker and $DOCKER_OPTS.
DEBIAN_STYLE_UNIT = "user-posted/ubuntu-docker.service-docker-daemon-default-opts"
UBUNTU_SOCKET = "ubuntu/ubuntu-docker.io-20.10.21-0ubuntu3-docker.socket"
DEBIAN_DEFAULT = "debian/debian-docker.io-1.11.2-etc-default-docker"
REDHAT_UNIT = "redhat/centos-virt7-docker-1.13.1-10-docker.service"
OLD_UNIT = "upstream/moby-v1.3.0-docker.service"


def corpus(name: str) -> str:
    path = CORPUS / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus file missing: {path}")
        pytest.skip(f"corpus file missing: {path}; set DHCONF_CORPUS")
    return path.read_text()


def make_tree(root: Path, files: dict[str, str], *, os_release: str = UBUNTU, systemd: bool = True) -> Path:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(os_release)
    if systemd:
        (root / "run/systemd/system").mkdir(parents=True)
    for host_path, text in files.items():
        target = root / host_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def dhconf(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dhconf", "--root", str(root), "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_ok(root: Path, *args: str) -> dict:
    result = dhconf(root, *args)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root (except dhconf's own state) with its content and mtime."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "var/lib/dhconf" not in str(path):
            files[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return files


def sh_value(path: Path, variable: str) -> str:
    """The value /bin/sh gets when an init script sources ``path``."""
    result = subprocess.run(
        ["sh", "-c", f'. "$1"; printf %s "${variable}"', "sh", str(path)],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=True,
    )
    return result.stdout


@pytest.fixture
def upstream_tree(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path,
        {
            "/lib/systemd/system/docker.service": corpus(UPSTREAM_UNIT),
            "/lib/systemd/system/docker.socket": corpus(UPSTREAM_SOCKET),
            "/etc/default/docker": corpus(DEBIAN_DEFAULT),
        },
    )


def test_upstream_unit_gets_dropin(upstream_tree: Path) -> None:
    default_before = (upstream_tree / "etc/default/docker").read_bytes()

    result = run_ok(upstream_tree, "set", "-H", "unix:///var/run/docker.sock", "-H", "tcp://127.0.0.1:2376")

    assert result["changed"] is True
    dropin = upstream_tree / "etc/systemd/system/docker.service.d/dhconf.conf"
    lines = dropin.read_text().splitlines()
    exec_lines = [line for line in lines if line.startswith("ExecStart=")]
    assert exec_lines[0] == "ExecStart="
    assert len(exec_lines) == 2
    assert "--containerd=/run/containerd/containerd.sock" in exec_lines[1]
    assert "-H fd://" in exec_lines[1]
    assert "-H tcp://127.0.0.1:2376" in exec_lines[1]
    assert "unix:///var/run/docker.sock" not in exec_lines[1]
    assert (upstream_tree / "etc/default/docker").read_bytes() == default_before
    assert (upstream_tree / "lib/systemd/system/docker.service").read_text() == corpus(UPSTREAM_UNIT)

    shown = run_ok(upstream_tree, "show")
    assert shown["hosts"] == ["fd://", "tcp://127.0.0.1:2376"]


def test_second_set_changes_nothing(upstream_tree: Path) -> None:
    args = ("set", "-H", "fd://", "-H", "tcp://127.0.0.1:2376")
    run_ok(upstream_tree, *args)
    before = snapshot(upstream_tree)

    again = run_ok(upstream_tree, *args)

    assert again["changed"] is False
    assert again["files"] == []
    assert snapshot(upstream_tree) == before


def test_dry_run_writes_nothing(upstream_tree: Path) -> None:
    before = snapshot(upstream_tree)

    result = run_ok(upstream_tree, "set", "--dry-run", "-H", "fd://", "-H", "tcp://127.0.0.1:2376")

    assert result["changed"] is True
    assert result["dry_run"] is True
    assert result["files"][0]["diff"].startswith("--- /dev/null\n+++ /etc/systemd/system/docker.service.d/dhconf.conf")
    assert snapshot(upstream_tree) == before
    assert not (upstream_tree / "var/lib/dhconf").exists()


def test_debian_unit_writes_docker_opts(tmp_path: Path) -> None:
    default = corpus(DEBIAN_DEFAULT)
    tree = make_tree(
        tmp_path,
        {
            "/lib/systemd/system/docker.service": corpus(DEBIAN_STYLE_UNIT),
            "/lib/systemd/system/docker.socket": corpus(UBUNTU_SOCKET),
            "/etc/default/docker": default,
        },
    )

    result = run_ok(tree, "set", "-H", "fd://", "-H", "tcp://127.0.0.1:2375")

    assert [entry["path"] for entry in result["files"]] == ["/etc/default/docker"]
    text = (tree / "etc/default/docker").read_text()
    assert text.startswith(default)  # every old line, comments included, stays
    assert sh_value(tree / "etc/default/docker", "DOCKER_OPTS") == "-H tcp://127.0.0.1:2375"
    assert not (tree / "etc/systemd/system").exists()
    assert run_ok(tree, "show")["hosts"] == ["fd://", "tcp://127.0.0.1:2375"]


def test_redhat_unit_writes_options(tmp_path: Path) -> None:
    sysconfig = (
        "# /etc/sysconfig/docker\n"
        "OPTIONS='--selinux-enabled -H tcp://0.0.0.0:2376 -H unix:///var/run/docker.sock --log-driver=journald'\n"
        "DOCKER_CERT_PATH=/etc/docker\n"
    )
    tree = make_tree(
        tmp_path,
        {
            "/usr/lib/systemd/system/docker.service": corpus(REDHAT_UNIT),
            "/etc/sysconfig/docker": sysconfig,
            "/run/containers/registries.conf": "",
        },
        os_release=CENTOS,
    )

    result = run_ok(tree, "set", "-H", "unix:///var/run/docker.sock", "-H", "tcp://127.0.0.1:2375")

    assert [entry["path"] for entry in result["files"]] == ["/etc/sysconfig/docker"]
    value = sh_value(tree / "etc/sysconfig/docker", "OPTIONS")
    assert value == "--selinux-enabled -H unix:///var/run/docker.sock -H tcp://127.0.0.1:2375 --log-driver=journald"
    text = (tree / "etc/sysconfig/docker").read_text()
    assert "DOCKER_CERT_PATH=/etc/docker" in text
    assert run_ok(tree, "show")["hosts"] == ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"]


def test_daemon_json_conflict_removed(upstream_tree: Path) -> None:
    daemon_json = upstream_tree / "etc/docker/daemon.json"
    daemon_json.parent.mkdir(parents=True)
    daemon_json.write_text('{\n  "log-level": "info",\n  "hosts": ["tcp://127.0.0.1:2375"],\n  "debug": false\n}\n')

    result = run_ok(upstream_tree, "set", "-H", "fd://", "-H", "tcp://127.0.0.1:2375")

    data = json.loads(daemon_json.read_text())
    assert "hosts" not in data
    assert list(data) == ["log-level", "debug"]
    assert "conflict_removed" in {finding["code"] for finding in result["findings"]}
    detected = run_ok(upstream_tree, "detect")
    assert "hosts_conflict" not in {finding["code"] for finding in detected["findings"]}
    assert detected["hosts"] == ["fd://", "tcp://127.0.0.1:2375"]


def test_old_docker_d_form_kept(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {
            "/usr/lib/systemd/system/docker.service": corpus(OLD_UNIT),
            "/usr/lib/systemd/system/docker.socket": corpus(UPSTREAM_SOCKET),
        },
    )

    run_ok(tree, "set", "-H", "fd://", "-H", "tcp://127.0.0.1:4243")

    dropin = (tree / "etc/systemd/system/docker.service.d/dhconf.conf").read_text()
    command = [line for line in dropin.splitlines() if line.startswith("ExecStart=/")][0]
    assert command.split()[:2] == ["ExecStart=/usr/bin/docker", "-d"]
    assert "-H tcp://127.0.0.1:4243" in command


def test_plain_tcp_refused_without_flag(upstream_tree: Path) -> None:
    before = snapshot(upstream_tree)

    result = dhconf(upstream_tree, "set", "-H", "tcp://0.0.0.0:2375")

    assert result.returncode == 2, result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "insecure_tcp"
    assert "--allow-insecure-tcp" in result.stderr
    assert snapshot(upstream_tree) == before


def test_plain_tcp_allowed_renders_tls_false(upstream_tree: Path) -> None:
    run_ok(upstream_tree, "set", "--allow-insecure-tcp", "-H", "fd://", "-H", "tcp://0.0.0.0:2375")

    dropin = (upstream_tree / "etc/systemd/system/docker.service.d/dhconf.conf").read_text()
    assert "--tls=false" in dropin
    assert "--tlsverify=false" not in dropin


def test_injection_host_rejected(upstream_tree: Path) -> None:
    before = snapshot(upstream_tree)
    marker = upstream_tree / "owned"

    result = dhconf(upstream_tree, "set", "-H", f'tcp://127.0.0.1:2375"; touch {marker}; "')

    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["code"] == "invalid_host"
    assert not marker.exists()
    assert snapshot(upstream_tree) == before


def test_add_and_remove(upstream_tree: Path) -> None:
    added = run_ok(upstream_tree, "add", "-H", "tcp://127.0.0.1:2376")
    assert added["hosts"]["after"] == ["fd://", "tcp://127.0.0.1:2376"]

    removed = run_ok(upstream_tree, "remove", "-H", "tcp://127.0.0.1:2376")

    assert removed["hosts"]["after"] == ["fd://"]
    assert run_ok(upstream_tree, "show")["hosts"] == ["fd://"]


def test_rollback_restores_files(upstream_tree: Path) -> None:
    before = snapshot(upstream_tree)
    run_ok(upstream_tree, "set", "-H", "fd://", "-H", "tcp://127.0.0.1:2376")

    run_ok(upstream_tree, "rollback")

    assert {path: data for path, (data, _) in snapshot(upstream_tree).items()} == {
        path: data for path, (data, _) in before.items()
    }


def test_sysv_host_writes_default_file(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path,
        {
            "/etc/init.d/docker": corpus("upstream/moby-v29.0.0-sysvinit-debian-docker.init"),
            "/etc/default/docker": corpus("upstream/moby-v29.0.0-sysvinit-debian-docker.default"),
        },
        os_release=DEBIAN,
        systemd=False,
    )

    run_ok(tree, "set", "-H", "unix:///var/run/docker.sock", "-H", "tcp://127.0.0.1:2375")

    assert sh_value(tree / "etc/default/docker", "DOCKER_OPTS") == "-H unix:///var/run/docker.sock -H tcp://127.0.0.1:2375"
    assert run_ok(tree, "show")["hosts"] == ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"]


def test_admin_spelling_kept_when_hosts_match(upstream_tree: Path) -> None:
    dropin = upstream_tree / "etc/systemd/system/docker.service.d/override.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text(
        "[Service]\nExecStart=\n"
        "ExecStart=/usr/bin/dockerd -H=fd:// -H=tcp://127.0.0.1:2376 --containerd=/run/containerd/containerd.sock\n"
    )
    before = snapshot(upstream_tree)

    result = run_ok(upstream_tree, "set", "-H", "fd://", "-H", "tcp://127.0.0.1:2376")

    assert result["changed"] is False, result["files"]
    assert snapshot(upstream_tree) == before
