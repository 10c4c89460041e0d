"""systemd over D-Bus with dbus-python, without a GLib main loop.

``RestartUnit`` returns a job object. Without a main loop dbus-python never
delivers the ``JobRemoved`` signal, so the job object is polled every 10 ms
until it disappears. Then the unit's state shows whether the restart worked.
For a ``Type=notify`` service such as docker.service the job ends when the
daemon reports ready (or fails). D-Bus values become plain Python values here,
and D-Bus errors are translated into dhconf's errors by their error name, in
``_translate`` only.

Import this module lazily (``dhconf.service.base.connect`` does): it imports
``dbus``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import dbus
import dbus.bus

from dhconf.errors import DhconfError, ServiceError, UnitNotFound
from dhconf.service.base import UnitState
from dhconf.service.output import OutputMark, format_output, mark_output, read_output

log = logging.getLogger(__name__)

SYSTEMD_NAME = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER_INTERFACE = "org.freedesktop.systemd1.Manager"
UNIT_INTERFACE = "org.freedesktop.systemd1.Unit"
JOB_INTERFACE = "org.freedesktop.systemd1.Job"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"

SYSTEM_BUS_DEFAULT = "unix:path=/run/dbus/system_bus_socket"

# Error names, from the D-Bus specification and systemd's bus-common-errors.h.
_PERMISSION_ERRORS = frozenset({
    "org.freedesktop.DBus.Error.AccessDenied",
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
})
_UNIT_ERRORS = frozenset({
    "org.freedesktop.systemd1.NoSuchUnit",
    "org.freedesktop.systemd1.LoadFailed",
})
_UNREACHABLE_ERRORS = frozenset({
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoServer",
    "org.freedesktop.DBus.Error.FileNotFound",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.NotSupported",
})
_UNIT_MASKED = "org.freedesktop.systemd1.UnitMasked"
_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
_UNKNOWN_PROPERTY = "org.freedesktop.DBus.Error.UnknownProperty"

_POLL_INTERVAL = 0.01  # seconds between two looks at a job object
_CALL_TIMEOUT = 90.0  # seconds for one method call; Reload on a large system is the slowest

# The interface that carries a unit type's own properties, by unit name suffix.
_TYPE_INTERFACES = {
    ".service": "org.freedesktop.systemd1.Service",
    ".socket": "org.freedesktop.systemd1.Socket",
    ".target": "org.freedesktop.systemd1.Target",
    ".mount": "org.freedesktop.systemd1.Mount",
    ".timer": "org.freedesktop.systemd1.Timer",
    ".path": "org.freedesktop.systemd1.Path",
    ".slice": "org.freedesktop.systemd1.Slice",
    ".scope": "org.freedesktop.systemd1.Scope",
}


class BusUnreachable(ServiceError):
    """systemd cannot be reached over D-Bus: no bus, no socket, or systemd is not on it."""

    code = "bus_unreachable"


def bus_address(scope: str) -> str:
    """Return the D-Bus address of the system bus or of the user's session bus.

    For "user", that is ``DBUS_SESSION_BUS_ADDRESS`` or, as sd-bus does,
    ``$XDG_RUNTIME_DIR/bus``.
    """
    if scope == "system":
        return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS_DEFAULT
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return f"unix:path={runtime_dir}/bus"
    raise BusUnreachable(
        "cannot find the user's D-Bus session bus: DBUS_SESSION_BUS_ADDRESS and "
        "XDG_RUNTIME_DIR are both unset; run dhconf --scope user from the user's login session",
        scope=scope,
    )


def to_python(value: Any) -> Any:
    """Convert a D-Bus value into the plain Python value it stands for.

    ``dbus.Boolean`` is an int subclass that prints as 1 in JSON, so it is
    checked before the integer types.
    """
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, (dbus.Byte, dbus.Int16, dbus.Int32, dbus.Int64,
                          dbus.UInt16, dbus.UInt32, dbus.UInt64)):
        return int(value)
    if isinstance(value, dbus.Double):
        return float(value)
    if isinstance(value, (dbus.String, dbus.ObjectPath, dbus.Signature)):
        return str(value)
    if isinstance(value, dbus.ByteArray):
        return bytes(value)
    if isinstance(value, dbus.Array):
        if value.signature == "y":
            return bytes(int(byte) for byte in value)
        return [to_python(item) for item in value]
    if isinstance(value, dbus.Struct):
        return tuple(to_python(item) for item in value)
    if isinstance(value, dbus.Dictionary):
        return {to_python(key): to_python(item) for key, item in value.items()}
    return value


class DbusManager:
    """systemd's manager on the system bus or on a user's session bus."""

    def __init__(self, bus: dbus.bus.BusConnection, scope: str, address: str) -> None:
        self._bus = bus
        self.scope = scope
        self.address = address
        self._manager = bus.get_object(SYSTEMD_NAME, MANAGER_PATH, introspect=False)

    @classmethod
    def open(cls, scope: str) -> DbusManager:
        """Connect to the bus of ``scope`` and check that systemd replies on it.

        Raises ``BusUnreachable`` when the bus or systemd cannot be reached.
        """
        address = bus_address(scope)
        try:
            bus = dbus.bus.BusConnection(address)
        except dbus.DBusException as err:
            raise BusUnreachable(
                f"cannot reach systemd over D-Bus at {address}: {err.get_dbus_message()}",
                address=address, dbus_error=err.get_dbus_name(),
            ) from err
        manager = cls(bus, scope, address)
        try:
            version = manager._get(manager._manager, MANAGER_INTERFACE, "Version", action="query")
        except DhconfError:
            manager.close()
            raise
        log.debug("Connected to systemd %s over D-Bus at %s", version, address)
        return manager

    def close(self) -> None:
        self._bus.close()

    def reload(self, *units: str) -> None:
        log.info("Reloading systemd's unit files (%s manager)", self.scope)
        self._call(self._manager, MANAGER_INTERFACE, "Reload", action="reload units")
        for unit in units:
            if self.property(unit, "NeedDaemonReload"):
                raise ServiceError(
                    f"systemd still reports changed unit files for {unit!r} after a reload; "
                    "check that its unit file and drop-ins are in systemd's unit search path",
                    unit=unit,
                )

    def reset_failed(self, unit: str) -> None:
        try:
            self._manager.ResetFailedUnit(unit, dbus_interface=MANAGER_INTERFACE, timeout=_CALL_TIMEOUT)
        except dbus.DBusException as err:
            if err.get_dbus_name() == "org.freedesktop.systemd1.NoSuchUnit":
                log.debug("No failed state to reset: %s is not loaded", unit)
                return
            raise self._translate(err, action="reset the failed state of", unit=unit) from err
        log.info("Reset the failed state of %s", unit)

    def restart(self, unit: str, *, timeout: float) -> UnitState:
        mark = mark_output(self.property, unit, user=self.scope == "user")
        log.info("Restarting %s through systemd over D-Bus", unit)
        started = time.monotonic()
        job = self._call(self._manager, MANAGER_INTERFACE, "RestartUnit", unit, "replace",
                         action="restart", unit=unit)
        self._wait_for_job(job, unit, "restart", started + timeout, mark)
        state = self.state(unit)
        if not state.is_up(unit):
            raise self._failure("restart", unit, state, mark)
        log.info("Restarted %s in %.2f s", unit, time.monotonic() - started)
        return state

    def stop(self, unit: str, *, timeout: float) -> UnitState:
        mark = mark_output(self.property, unit, user=self.scope == "user")
        log.info("Stopping %s through systemd over D-Bus", unit)
        job = self._call(self._manager, MANAGER_INTERFACE, "StopUnit", unit, "replace",
                         action="stop", unit=unit)
        self._wait_for_job(job, unit, "stop", time.monotonic() + timeout, mark)
        state = self.state(unit)
        if state.active_state not in ("inactive", "failed"):
            raise self._failure("stop", unit, state, mark)
        return state

    def state(self, unit: str) -> UnitState:
        unit_object = self._unit_object(unit)
        values = {}
        for interface in self._interfaces(unit):
            try:
                reply = unit_object.GetAll(interface, dbus_interface=PROPERTIES_INTERFACE,
                                           timeout=_CALL_TIMEOUT)
            except dbus.DBusException as err:
                raise self._translate(err, action="read the state of", unit=unit) from err
            values.update(to_python(reply))
        return UnitState(
            active_state=str(values["ActiveState"]),
            sub_state=str(values["SubState"]),
            # Only services have ExecMainStatus, and only some unit types a Result.
            result=str(values.get("Result", "success")),
            exec_main_status=int(values.get("ExecMainStatus", 0)),
        )

    def property(self, unit: str, name: str) -> object:
        """Return property ``name`` of ``unit`` from the Unit interface or the unit type's own."""
        unit_object = self._unit_object(unit)
        for interface in self._interfaces(unit):
            try:
                value = unit_object.Get(interface, name, dbus_interface=PROPERTIES_INTERFACE,
                                        timeout=_CALL_TIMEOUT)
            except dbus.DBusException as err:
                if err.get_dbus_name() == _UNKNOWN_PROPERTY:
                    continue
                raise self._translate(err, action=f"read property {name} of", unit=unit) from err
            return to_python(value)
        raise ServiceError(
            f"systemd has no property {name!r} on unit {unit!r}; "
            f"'systemctl show {unit}' lists the properties it has",
            unit=unit, property=name,
        )

    @staticmethod
    def _interfaces(unit: str) -> list[str]:
        interfaces = [UNIT_INTERFACE]
        suffix = unit[unit.rfind("."):]
        if suffix in _TYPE_INTERFACES:
            interfaces.append(_TYPE_INTERFACES[suffix])
        return interfaces

    def _unit_object(self, unit: str) -> dbus.proxies.ProxyObject:
        # LoadUnit returns the unit loaded in memory or loads it, where GetUnit
        # fails for a unit that is merely installed.
        path = self._call(self._manager, MANAGER_INTERFACE, "LoadUnit", unit, action="load", unit=unit)
        return self._bus.get_object(SYSTEMD_NAME, path, introspect=False)

    def _wait_for_job(self, job_path: str, unit: str, verb: str, deadline: float, mark: OutputMark) -> None:
        job = self._bus.get_object(SYSTEMD_NAME, job_path, introspect=False)
        while True:
            try:
                job.Get(JOB_INTERFACE, "State", dbus_interface=PROPERTIES_INTERFACE, timeout=_CALL_TIMEOUT)
            except dbus.DBusException as err:
                if err.get_dbus_name() in (_UNKNOWN_OBJECT, _UNKNOWN_METHOD):
                    return  # the job is finished and gone
                raise self._translate(err, action=f"follow the {verb} job of", unit=unit) from err
            if time.monotonic() >= deadline:
                source, lines = read_output(mark)
                raise ServiceError(
                    f"timed out waiting for systemd to {verb} {unit!r}; its job {job_path} "
                    f"is still running. {format_output(source, lines)}\n"
                    "Allow more time with --timeout, or look at the unit with "
                    f"'{self._systemctl()} status {unit}'",
                    unit=unit, job=job_path, output=lines,
                )
            time.sleep(_POLL_INTERVAL)

    def _failure(self, verb: str, unit: str, state: UnitState, mark: OutputMark) -> ServiceError:
        source, lines = read_output(mark)
        return ServiceError(
            f"systemd could not {verb} {unit!r}: {state.describe()}.\n"
            f"{format_output(source, lines)}\n"
            f"Fix the cause above, then look at the unit with '{self._systemctl()} status {unit}'",
            unit=unit, state=state.__dict__.copy(), output=lines,
        )

    def _get(self, proxy: dbus.proxies.ProxyObject, interface: str, name: str, *, action: str) -> object:
        try:
            value = proxy.Get(interface, name, dbus_interface=PROPERTIES_INTERFACE, timeout=_CALL_TIMEOUT)
        except dbus.DBusException as err:
            raise self._translate(err, action=action, unit=None) from err
        return to_python(value)

    def _call(self, proxy: dbus.proxies.ProxyObject, interface: str, method: str, *args: object,
              action: str, unit: str | None = None) -> Any:
        try:
            reply = proxy.get_dbus_method(method, interface)(*args, timeout=_CALL_TIMEOUT)
        except dbus.DBusException as err:
            raise self._translate(err, action=action, unit=unit) from err
        return to_python(reply)

    def _systemctl(self) -> str:
        return "systemctl --user" if self.scope == "user" else "systemctl"

    def _translate(self, err: dbus.DBusException, *, action: str, unit: str | None) -> DhconfError:
        return translate_error(err, action=action, unit=unit, address=self.address, scope=self.scope)


def translate_error(err: dbus.DBusException, *, action: str, unit: str | None, address: str,
                    scope: str) -> DhconfError:
    """Translate a D-Bus error into dhconf's error tree by its error name.

    ``action`` is the verb phrase for the message ("restart", "reload
    units"), ``unit`` the unit it was about, if any.
    """
    name = err.get_dbus_name() or ""
    text = err.get_dbus_message() or name
    target = f"{action} {unit!r}" if unit else action
    systemctl = "systemctl --user" if scope == "user" else "systemctl"
    details: dict[str, Any] = {"dbus_error": name, "address": address}
    if unit:
        details["unit"] = unit

    if name in _PERMISSION_ERRORS:
        return ServiceError(f"permission denied to {target} over D-Bus: {text}. Run dhconf as root", **details)
    if name in _UNIT_ERRORS:
        return UnitNotFound(
            f"systemd cannot {target}: {text}. Check the unit name with "
            f"'{systemctl} list-unit-files', or pass the right one with --unit",
            **details)
    if name == _UNIT_MASKED:
        return ServiceError(f"systemd cannot {target}: {text}. Unmask it with '{systemctl} unmask {unit}'",
                            **details)
    if name in _UNREACHABLE_ERRORS:
        return BusUnreachable(f"cannot reach systemd over D-Bus at {address}: {text}", **details)
    return ServiceError(f"systemd failed to {target} over D-Bus: {name}: {text}", **details)
