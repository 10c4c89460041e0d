"""The systemd managers (D-Bus and systemctl) against a real user manager running dockerd."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from dhconf.errors import ServiceError, UnitNotFound
from dhconf.service.base import ServiceManager, connect, restart_units
from dhconf.service.systemctl import SystemctlManager
from dhconf.service.systemd_dbus import DbusManager
from tests.bed.systemd_user import SystemdUserBed, ping_unix_socket

if TYPE_CHECKING:
    from tests.integration.conftest import HeldPort

pytestmark = pytest.mark.integration

log = logging.getLogger(__name__)

RESTART_TIMEOUT = 60.0


@pytest.fixture(params=["dbus", "systemctl"])
def manager(request: pytest.FixtureRequest, systemd_bed: SystemdUserBed) -> Iterator[ServiceManager]:
    """A manager of the bed's user systemd, over D-Bus or through systemctl."""
    manager = connect("user", prefer=request.param)
    expected = DbusManager if request.param == "dbus" else SystemctlManager
    assert isinstance(manager, expected), f"connect(prefer={request.param!r}) gave {type(manager).__name__}"
    yield manager
    manager.close()


def test_restart_serves_and_replaces_pid(manager: ServiceManager, systemd_bed: SystemdUserBed) -> None:
    unit = systemd_bed.write_docker_unit()
    manager.reload(unit.name)

    started = time.monotonic()
    state = manager.restart(unit.name, timeout=RESTART_TIMEOUT)
    log.info("First start of dockerd through %s took %.2f s", type(manager).__name__,
             time.monotonic() - started)
    assert state.is_up(unit.name), state.describe()
    assert unit.ping(), unit.read_output()[-2000:]
    assert manager.state(unit.name).sub_state == "running"
    first_pid = manager.property(unit.name, "MainPID")

    manager.restart(unit.name, timeout=RESTART_TIMEOUT)
    second_pid = manager.property(unit.name, "MainPID")
    assert isinstance(second_pid, int)
    assert second_pid != first_pid
    assert unit.ping(), unit.read_output()[-2000:]


def test_reload_clears_need_daemon_reload(manager: ServiceManager, systemd_bed: SystemdUserBed) -> None:
    unit = systemd_bed.write_docker_unit()
    manager.reload(unit.name)
    # Only a unit kept in memory (here: a running one) can need a reload; an
    # inactive unit is loaded afresh from disk when asked about.
    manager.restart(unit.name, timeout=RESTART_TIMEOUT)
    unit.path.write_text(unit.path.read_text().replace("for dhconf tests", "for dhconf tests, changed"))
    assert manager.property(unit.name, "NeedDaemonReload") is True

    manager.reload(unit.name)

    assert manager.property(unit.name, "NeedDaemonReload") is False


def test_properties_are_plain_python(manager: ServiceManager, systemd_bed: SystemdUserBed) -> None:
    unit = systemd_bed.write_docker_unit()
    drop_in_dir = systemd_bed.unit_dir / f"{unit.name}.d"
    drop_in_dir.mkdir()
    (drop_in_dir / "extra.conf").write_text("[Service]\nEnvironment=EXTRA=1\n")
    manager.reload(unit.name)

    assert type(manager.property(unit.name, "NeedDaemonReload")) is bool
    assert type(manager.property(unit.name, "ExecMainStatus")) is int
    assert manager.property(unit.name, "DropInPaths") == [str(drop_in_dir / "extra.conf")]
    assert manager.property(unit.name, "FragmentPath") == str(unit.path)


def test_failed_restart_quotes_dockerd(
    manager: ServiceManager, systemd_bed: SystemdUserBed, held_port: HeldPort
) -> None:
    unit = systemd_bed.write_docker_unit(hosts=[held_port.host])
    manager.reload(unit.name)

    with pytest.raises(ServiceError) as caught:
        manager.restart(unit.name, timeout=RESTART_TIMEOUT)

    assert "address already in use" in caught.value.message
    assert caught.value.details["unit"] == unit.name
    assert manager.state(unit.name).active_state == "failed"


def test_start_limit_then_reset_failed(
    manager: ServiceManager, systemd_bed: SystemdUserBed, held_port: HeldPort
) -> None:
    began = time.monotonic()
    unit = systemd_bed.write_docker_unit(hosts=[held_port.host])
    manager.reload(unit.name)
    for attempt in range(3):
        with pytest.raises(ServiceError, match="address already in use"):
            manager.restart(unit.name, timeout=RESTART_TIMEOUT)

    # Free the port rather than edit the unit, because systemd 252 resets the
    # start counts on daemon-reload, so a reload here would hide the start limit.
    held_port.release()
    with pytest.raises(ServiceError) as refused:
        manager.restart(unit.name, timeout=RESTART_TIMEOUT)
    # The start limit refuses the start before dockerd runs: nothing new in its output.
    assert "address already in use" not in refused.value.message

    manager.reset_failed(unit.name)
    state = manager.restart(unit.name, timeout=RESTART_TIMEOUT)

    assert state.is_up(unit.name), state.describe()
    assert unit.ping()
    assert time.monotonic() - began < 60


def test_output_file_from_drop_in(manager: ServiceManager, systemd_bed: SystemdUserBed, held_port: HeldPort) -> None:
    unit = systemd_bed.write_docker_unit(hosts=[held_port.host])
    other_output = unit.state_dir / "from-drop-in.log"
    drop_in_dir = systemd_bed.unit_dir / f"{unit.name}.d"
    drop_in_dir.mkdir()
    (drop_in_dir / "output.conf").write_text(f"[Service]\nStandardOutput=append:{other_output}\n")
    manager.reload(unit.name)

    with pytest.raises(ServiceError) as caught:
        manager.restart(unit.name, timeout=RESTART_TIMEOUT)

    assert str(other_output) in caught.value.message
    assert "address already in use" in caught.value.message


def test_journal_output_names_journalctl(
    manager: ServiceManager, systemd_bed: SystemdUserBed, held_port: HeldPort
) -> None:
    unit = systemd_bed.write_docker_unit(hosts=[held_port.host])
    drop_in_dir = systemd_bed.unit_dir / f"{unit.name}.d"
    drop_in_dir.mkdir()
    (drop_in_dir / "journal.conf").write_text("[Service]\nStandardOutput=journal\n")
    manager.reload(unit.name)

    with pytest.raises(ServiceError) as caught:
        manager.restart(unit.name, timeout=RESTART_TIMEOUT)

    # The bed has no journald, so journalctl finds no lines. The message names where it looked.
    assert f"journalctl --user-unit={unit.name}" in caught.value.message


def test_restart_times_out(manager: ServiceManager, systemd_bed: SystemdUserBed) -> None:
    systemd_bed.write_unit(
        "never-ready.service",
        "[Service]\nType=notify\nExecStart=/bin/sleep 60\nTimeoutStartSec=120\n",
    )
    manager.reload("never-ready.service")

    began = time.monotonic()
    with pytest.raises(ServiceError, match="timed out"):
        manager.restart("never-ready.service", timeout=1.0)

    assert time.monotonic() - began < 10


def test_restart_unknown_unit(manager: ServiceManager) -> None:
    with pytest.raises(UnitNotFound):
        manager.restart("no-such-unit.service", timeout=RESTART_TIMEOUT)


def test_reset_failed_unknown_unit(manager: ServiceManager) -> None:
    manager.reset_failed("no-such-unit.service")

    assert manager.state("no-such-unit.service").active_state == "inactive"


def test_restart_units_socket_first(manager: ServiceManager, systemd_bed: SystemdUserBed) -> None:
    unit = systemd_bed.write_docker_unit()
    # Turn the unit into the packaged shape: dockerd -H fd:// behind docker.socket.
    text = unit.path.read_text().replace(f"-H=unix://{unit.socket_path}", "-H=fd://")
    text = text.replace("[Unit]\n", "[Unit]\nRequires=docker.socket\nAfter=docker.socket\n")
    unit.path.write_text(text)
    systemd_bed.write_unit(
        "docker.socket", f"[Socket]\nListenStream={unit.socket_path}\nSocketMode=0600\n",
    )
    manager.reload("docker.socket", unit.name)

    states = restart_units(manager, ["docker.socket", unit.name], RESTART_TIMEOUT)

    assert [state.sub_state for state in states] == ["listening", "running"]
    assert ping_unix_socket(unit.socket_path), unit.read_output()[-2000:]


def test_connect_falls_back_to_systemctl(
    systemd_bed: SystemdUserBed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    missing = systemd_bed.root / "no-bus-here"
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={missing}")

    with caplog.at_level(logging.WARNING, logger="dhconf.service.base"):
        manager = connect("user")

    assert isinstance(manager, SystemctlManager)
    assert str(missing) in caplog.text
    assert "using systemctl instead" in caplog.text
    # systemctl --user reaches the manager over its private socket, without the bus.
    unit = systemd_bed.write_docker_unit()
    manager.reload(unit.name)
    assert manager.property(unit.name, "FragmentPath") == str(unit.path)
