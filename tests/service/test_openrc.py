"""The OpenRC manager, and the init-script logic it shares with SysV, on a stand-in rc-service.

OpenRC does not run on the Debian test machines, so a small shell script
takes the place of ``rc-service``: it starts ``$DAEMON`` in the background,
keeps its pid, and returns OpenRC's ``status`` exit codes (0 started,
3 stopped, 32 crashed). The real SysV script is tested in
tests/integration/test_service_sysv.py.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from dhconf.errors import NotSupported, ServiceError
from dhconf.service.openrc import OpenrcManager

RC_SERVICE = r"""#!/bin/sh
name=$1 verb=$2
pidfile="$STATE_DIR/$name.pid"
echo "$verb" >> "$STATE_DIR/verbs"
running() {
    [ -f "$pidfile" ] || return 1
    state=$(sed 's/.*) //' "/proc/$(cat "$pidfile")/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$state" ] && [ "$state" != Z ]
}
case $verb in
start)
    sh -c "$DAEMON" >> "$LOG_FILE" 2>&1 &
    echo $! > "$pidfile"
    echo " * Starting $name ..."
    ;;
stop)
    if running; then kill "$(cat "$pidfile")"; fi
    rm -f "$pidfile"
    ;;
restart)
    "$0" "$name" stop && "$0" "$name" start
    ;;
status)
    if running; then exit 0; fi
    if [ -f "$pidfile" ]; then exit 32; fi
    exit 3
    ;;
hang)
    exec sleep 30
    ;;
esac
"""


@pytest.fixture
def rc_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    script = tmp_path / "rc-service"
    script.write_text(RC_SERVICE)
    script.chmod(0o755)
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LOG_FILE", str(tmp_path / "docker.log"))
    monkeypatch.setenv("DAEMON", "exec sleep 60")
    yield script
    _kill_daemon(tmp_path / "docker.pid")


def _kill_daemon(pidfile: Path) -> None:
    """Kill the stand-in's daemon by the pid it wrote, if that is still a sleep of ours."""
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if cmdline.startswith(b"sleep"):
        os.kill(pid, signal.SIGKILL)


def _manager(rc_service: Path, tmp_path: Path) -> OpenrcManager:
    return OpenrcManager(rc_service=str(rc_service), log_file=str(tmp_path / "docker.log"), settle=0.3)


def _verbs(tmp_path: Path) -> list[str]:
    return [verb for verb in (tmp_path / "verbs").read_text().split() if verb != "status"]


def test_restart_stopped_service_starts(rc_service: Path, tmp_path: Path) -> None:
    manager = _manager(rc_service, tmp_path)

    state = manager.restart("docker.service", timeout=10)

    assert state.is_up("docker.service"), state.describe()
    assert _verbs(tmp_path) == ["start"]


def test_restart_running_service_restarts(rc_service: Path, tmp_path: Path) -> None:
    manager = _manager(rc_service, tmp_path)
    manager.restart("docker.service", timeout=10)

    manager.restart("docker.service", timeout=10)

    # The stand-in's restart runs its own stop and start.
    assert _verbs(tmp_path) == ["start", "restart", "stop", "start"]


def test_daemon_exits_at_once(rc_service: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAEMON", "echo 'failed to load listeners: address already in use'; exit 1")
    manager = _manager(rc_service, tmp_path)

    with pytest.raises(ServiceError) as caught:
        manager.restart("docker.service", timeout=10)

    assert "address already in use" in caught.value.message
    assert "exited with status 32" in caught.value.message


def test_crashed_status_is_failed(rc_service: Path, tmp_path: Path) -> None:
    (tmp_path / "docker.pid").write_text("999999999\n")  # a pid file whose process is gone

    state = _manager(rc_service, tmp_path).state("docker.service")

    assert state.active_state == "failed"
    assert state.exec_main_status == 32


def test_stop_service(rc_service: Path, tmp_path: Path) -> None:
    manager = _manager(rc_service, tmp_path)
    manager.restart("docker.service", timeout=10)

    state = manager.stop("docker.service", timeout=10)

    assert state.active_state == "inactive"


def test_command_times_out(rc_service: Path, tmp_path: Path) -> None:
    manager = _manager(rc_service, tmp_path)
    manager.command = lambda unit, verb: [str(rc_service), "docker", "hang"]  # type: ignore[method-assign]

    with pytest.raises(ServiceError, match="did not finish within"):
        manager.stop("docker.service", timeout=0.5)


def test_reload_and_reset_are_no_ops(rc_service: Path, tmp_path: Path) -> None:
    manager = _manager(rc_service, tmp_path)

    manager.reload("docker.service")
    manager.reset_failed("docker.service")

    assert not (tmp_path / "verbs").exists()


def test_property_not_supported(rc_service: Path, tmp_path: Path) -> None:
    with pytest.raises(NotSupported):
        _manager(rc_service, tmp_path).property("docker.service", "MainPID")


def test_command_line() -> None:
    assert OpenrcManager().command("docker.service", "restart") == ["rc-service", "docker", "restart"]
