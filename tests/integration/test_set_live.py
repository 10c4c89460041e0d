"""The whole set transaction on real parts: write, restart, verify, roll back.

dhconf runs as a sysadmin runs it, ``python -m dhconf --scope user --json``,
against a systemd user manager with its own bus and Debian's dockerd as a
Type=notify user unit. One bed serves the module; before each test the
dhconf drop-in is removed and dockerd runs again on its unix socket only.
The unit and dhconf read the same daemon.json (``--config-file``), so
dhconf finds no ``hosts`` key there and live-restore off.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.bed.dockerd import free_port
from tests.bed.systemd_user import DockerUnit, SystemdUserBed, systemd_user_bed

if TYPE_CHECKING:
    from tests.integration.conftest import HeldPort

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DHCONF_TIMEOUT = 120.0
# The unit keeps the packaged start limit: 3 starts in 60 s.
START_LIMIT_SECONDS = 60.0


@dataclass
class Completed:
    """One dhconf run: exit code, the JSON document on stdout, and stderr."""

    returncode: int
    document: dict[str, Any]
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\nstdout: {json.dumps(self.document, indent=1)}\nstderr: {self.stderr}"


@dataclass
class LiveDocker:
    """The module's bed: a user manager running dockerd from a unit that dhconf manages."""

    bed: SystemdUserBed
    unit: DockerUnit

    @property
    def unix_host(self) -> str:
        return f"unix://{self.unit.socket_path}"

    @property
    def dropin(self) -> Path:
        return self.bed.unit_dir / f"{self.unit.name}.d" / "dhconf.conf"

    def main_pid(self) -> int:
        text = self.bed.systemctl("show", "-p", "MainPID", "--value", self.unit.name).stdout
        return int(text.strip())

    def active_state(self) -> str:
        return self.bed.systemctl("show", "-p", "ActiveState", "--value", self.unit.name).stdout.strip()

    def env(self, state_dir: Path, **overrides: str) -> dict[str, str]:
        """dhconf's environment: the bed's manager and bus, its own state directory."""
        return {**os.environ, **self.bed.env, "XDG_STATE_HOME": str(state_dir), **overrides}

    def restore_baseline(self) -> None:
        """Remove dhconf's drop-in and make dockerd serve its unix socket only, as the unit file defines."""
        dirty = self.dropin.exists()
        if dirty:
            self.dropin.unlink()
            self.bed.systemctl("daemon-reload")
        if dirty or self.active_state() != "active" or not self.unit.ping():
            self.bed.systemctl("reset-failed", self.unit.name, check=False)
            self.bed.systemctl("restart", self.unit.name)
            self.unit.wait_until_serving()


def run_dhconf(env: dict[str, str], *args: str) -> Completed:
    """Run ``dhconf --scope user --json ARGS`` and parse the one document it prints."""
    completed = subprocess.run(
        [sys.executable, "-m", "dhconf", "--scope", "user", "--json", *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=DHCONF_TIMEOUT,
        stdin=subprocess.DEVNULL, check=False,
    )
    try:
        document = json.loads(completed.stdout)
    except json.JSONDecodeError as err:
        raise AssertionError(
            f"dhconf printed no JSON document ({err}); exit {completed.returncode}\n"
            f"stdout: {completed.stdout}\nstderr: {completed.stderr}"
        ) from err
    return Completed(completed.returncode, document, completed.stderr)


def get_info(socket_path: Path) -> dict[str, Any] | None:
    """Return dockerd's ``GET /info`` document over a unix socket, or None when it does not respond."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect(str(socket_path))
        connection = http.client.HTTPConnection("localhost", timeout=5)
        connection.sock = sock
        connection.request("GET", "/info")
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        sock.close()
    return json.loads(body) if response.status == 200 else None


def tcp_accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        return True
    return False


@pytest.fixture(scope="module")
def live() -> Iterator[LiveDocker]:
    with systemd_user_bed() as bed:
        yield LiveDocker(bed=bed, unit=bed.start_docker())


@pytest.fixture
def docker(live: LiveDocker) -> LiveDocker:
    live.restore_baseline()
    return live


@pytest.fixture(params=["dbus", "systemctl"])
def manager_env(request: pytest.FixtureRequest, docker: LiveDocker, tmp_path: Path) -> dict[str, str]:
    """dhconf's environment with the bed's bus, or with a bus address where nothing listens.

    Without a bus dhconf falls back to ``systemctl --user``, which reaches the
    manager over ``$XDG_RUNTIME_DIR/systemd/private``.
    """
    if request.param == "dbus":
        return docker.env(tmp_path / "state")
    missing_bus = f"unix:path={tmp_path / 'no-such-bus'}"
    return docker.env(tmp_path / "state", DBUS_SESSION_BUS_ADDRESS=missing_bus)


def expected_manager(env: dict[str, str], docker: LiveDocker) -> str:
    return "DbusManager" if env["DBUS_SESSION_BUS_ADDRESS"] == docker.bed.bus_address else "SystemctlManager"


def check_fallback_warning(env: dict[str, str], docker: LiveDocker, result: Completed) -> None:
    warned = "using systemctl instead" in result.stderr
    assert warned is (expected_manager(env, docker) == "SystemctlManager"), result.describe()


def test_set_adds_tcp_and_verifies(docker: LiveDocker, manager_env: dict[str, str]) -> None:
    tcp_host = f"tcp://127.0.0.1:{free_port()}"
    pid_before = docker.main_pid()

    result = run_dhconf(manager_env, "set", "-H", docker.unix_host, "-H", tcp_host)

    assert result.returncode == 0, result.describe()
    outcome = result.document
    assert outcome["changed"] is True
    assert outcome["rolled_back"] is False
    assert outcome["hosts"]["after"] == [docker.unix_host, tcp_host]
    assert docker.dropin.is_file()
    check_fallback_warning(manager_env, docker, result)
    restart = outcome["restart"]
    assert restart["manager"] == expected_manager(manager_env, docker), restart
    assert restart["active_state"] == "active", restart
    assert restart["sub_state"] == "running", restart
    pid_after = docker.main_pid()
    assert pid_after != 0
    assert pid_after != pid_before
    checks = {check["host"]: check for check in outcome["verify"]}
    assert set(checks) == {docker.unix_host, tcp_host}
    for check in checks.values():
        assert check["ok"] is True, check
        assert check["server_version"], check

    again = run_dhconf(manager_env, "set", "-H", docker.unix_host, "-H", tcp_host)

    assert again.returncode == 0, again.describe()
    assert again.document["changed"] is False
    assert again.document["restart"] is None
    assert docker.main_pid() == pid_after


def test_set_held_port_rolls_back(
    docker: LiveDocker, manager_env: dict[str, str], held_port: HeldPort
) -> None:
    result = run_dhconf(manager_env, "set", "-H", docker.unix_host, "-H", held_port.host)

    assert result.returncode == 3, result.describe()
    error = result.document["error"]
    assert error["code"] == "rolled_back"
    assert error["outcome"]["rolled_back"] is True
    assert "address already in use" in error["message"]
    check_fallback_warning(manager_env, docker, result)
    assert not docker.dropin.exists()
    assert docker.active_state() == "active"
    info = get_info(docker.unit.socket_path)
    assert info is not None, docker.unit.read_output()[-2000:]
    assert info["ServerVersion"]


def test_good_set_after_two_failures(docker: LiveDocker, held_port: HeldPort, tmp_path: Path) -> None:
    env = docker.env(tmp_path / "state")
    started = time.monotonic()
    for attempt in range(2):
        failed = run_dhconf(env, "set", "-H", docker.unix_host, "-H", held_port.host)
        assert failed.returncode == 3, f"attempt {attempt + 1}: {failed.describe()}"
    good_host = f"tcp://127.0.0.1:{free_port()}"

    result = run_dhconf(env, "set", "-H", docker.unix_host, "-H", good_host)

    # Two failed starts, two rollback starts and this one: past the unit's
    # limit of 3 starts in 60 s, unless dhconf resets the failed state first.
    assert time.monotonic() - started < START_LIMIT_SECONDS
    assert result.returncode == 0, result.describe()
    assert [check["ok"] for check in result.document["verify"]] == [True, True]


def test_no_restart_writes_files_only(docker: LiveDocker, tmp_path: Path) -> None:
    pid_before = docker.main_pid()
    tcp_port = free_port()

    result = run_dhconf(docker.env(tmp_path / "state"), "set", "--no-restart",
                       "-H", docker.unix_host, "-H", f"tcp://127.0.0.1:{tcp_port}")

    assert result.returncode == 0, result.describe()
    assert result.document["changed"] is True
    assert docker.dropin.is_file()
    assert result.document["restart"] is None
    assert docker.main_pid() == pid_before
    assert not tcp_accepts(tcp_port)
    codes = [finding["code"] for finding in result.document["findings"]]
    assert "not_restarted" in codes


def test_rollback_restores_old_binding(docker: LiveDocker, tmp_path: Path) -> None:
    env = docker.env(tmp_path / "state")
    tcp_port = free_port()
    applied = run_dhconf(env, "set", "-H", docker.unix_host, "-H", f"tcp://127.0.0.1:{tcp_port}")
    assert applied.returncode == 0, applied.describe()
    pid_with_tcp = docker.main_pid()

    result = run_dhconf(env, "rollback")

    assert result.returncode == 0, result.describe()
    assert not docker.dropin.exists()
    pid_after = docker.main_pid()
    assert pid_after != 0
    assert pid_after != pid_with_tcp
    assert result.document["hosts"]["after"] == [docker.unix_host]
    assert [check["host"] for check in result.document["verify"]] == [docker.unix_host]
    assert get_info(docker.unit.socket_path) is not None, docker.unit.read_output()[-2000:]
    assert not tcp_accepts(tcp_port)
