"""The service manager interface, the unit state it reports, and ``connect``.

dhconf restarts dockerd through whatever started it: systemd (over D-Bus with
dbus-python, or through ``systemctl`` when that cannot be used), a SysV init
script, or OpenRC. Every manager has the same methods, so the transaction code
does not care which one it holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dhconf.errors import InvalidInput

log = logging.getLogger(__name__)

SCOPES = ("system", "user")
PREFERENCES = ("dbus", "systemctl")


@dataclass(frozen=True)
class UnitState:
    """A unit's state after a start, restart or stop, in systemd's terms.

    The SysV and OpenRC managers map their ``status`` exit code onto the same
    fields. ``job_result`` is systemd's job result (``done``, ``failed``,
    ``timeout``, ...) where the manager could learn it, else None.
    """

    active_state: str
    sub_state: str
    result: str
    exec_main_status: int
    job_result: str | None = None

    def is_up(self, unit: str) -> bool:
        """Return whether ``unit`` is active, and for a service also running.

        A socket unit is up when active (its sub-state is ``listening``). A
        service that is active but not ``running`` (``exited``, ``reload``)
        does not count, because dockerd is a long-running daemon.
        """
        if self.job_result not in (None, "done"):
            return False
        if self.active_state != "active":
            return False
        if unit.endswith(".service"):
            return self.sub_state == "running"
        return True

    def describe(self) -> str:
        """Return the state as one line of ``Name=value`` pairs, as ``systemctl show`` prints them."""
        parts = [
            f"ActiveState={self.active_state}",
            f"SubState={self.sub_state}",
            f"Result={self.result}",
            f"ExecMainStatus={self.exec_main_status}",
        ]
        if self.job_result is not None:
            parts.append(f"job result={self.job_result}")
        return ", ".join(parts)


class ServiceManager(Protocol):
    """The operations dhconf needs from a service manager to apply a change and roll it back."""

    def reload(self, *units: str) -> None:
        """Make the manager read unit files again (``daemon-reload``).

        Raises ``ServiceError`` when any of ``units`` still reports
        ``NeedDaemonReload`` afterwards. A no-op for SysV and OpenRC.
        """

    def reset_failed(self, unit: str) -> None:
        """Clear the unit's failed state and start-rate counter; a unit that is not loaded is fine."""

    def restart(self, unit: str, *, timeout: float) -> UnitState:
        """Restart ``unit`` and wait up to ``timeout`` seconds for it to come up.

        Raises ``ServiceError`` whose message contains the last lines of the
        daemon's own output when the unit does not come up.
        """

    def stop(self, unit: str, *, timeout: float) -> UnitState:
        """Stop ``unit`` and wait up to ``timeout`` seconds for it to go down."""

    def state(self, unit: str) -> UnitState:
        """Return the unit's current state."""

    def property(self, unit: str, name: str) -> object:
        """Return one property of the unit as a plain Python value (bool, int, str, list)."""

    def close(self) -> None:
        """Release the connection to the manager, if any."""


def connect(scope: str, *, prefer: str = "dbus") -> ServiceManager:
    """Return a systemd manager for ``scope`` ("system" or "user").

    With ``prefer="dbus"``, talk to systemd over D-Bus with dbus-python. When
    dbus-python cannot be imported or the bus cannot be reached, log a warning
    with the reason and use ``systemctl`` instead, which reaches systemd over its
    private socket without the bus. ``prefer="systemctl"`` skips D-Bus.
    """
    if scope not in SCOPES:
        raise InvalidInput(
            f"invalid service manager scope {scope!r}: use one of {', '.join(SCOPES)}",
            scope=scope,
        )
    if prefer not in PREFERENCES:
        raise InvalidInput(
            f"invalid service manager preference {prefer!r}: use one of {', '.join(PREFERENCES)}",
            prefer=prefer,
        )

    from dhconf.service.systemctl import SystemctlManager

    if prefer == "systemctl":
        return SystemctlManager(scope)

    try:
        from dhconf.service import systemd_dbus
    except ImportError as err:
        log.warning("Cannot import dbus-python (%s); using systemctl instead", err)
        return SystemctlManager(scope)

    try:
        return systemd_dbus.DbusManager.open(scope)
    except systemd_dbus.BusUnreachable as err:
        log.warning("%s; using systemctl instead", err)
        return SystemctlManager(scope)


def restart_units(manager: ServiceManager, units: Sequence[str], timeout: float) -> list[UnitState]:
    """Restart ``units`` in order within one deadline of ``timeout`` seconds.

    Pass the socket before the service (``["docker.socket", "docker.service"]``)
    so that the service, when it starts, gets the socket with its new
    ``ListenStream=``. Stops at the first unit that fails, by raising its
    ``ServiceError``.
    """
    deadline = time.monotonic() + timeout
    states = []
    for unit in units:
        remaining = max(deadline - time.monotonic(), 0.0)
        states.append(manager.restart(unit, timeout=remaining))
    return states
