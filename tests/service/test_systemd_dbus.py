"""D-Bus values to plain Python, D-Bus errors to dhconf errors, and bus addresses."""

from __future__ import annotations

import dbus
import pytest

from dhconf.errors import ServiceError, UnitNotFound
from dhconf.service.systemd_dbus import BusUnreachable, bus_address, to_python, translate_error


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dbus.Boolean(True), True),
        (dbus.Boolean(False), False),
        (dbus.UInt32(4242), 4242),
        (dbus.Int64(-1), -1),
        (dbus.UInt64(2**63), 2**63),
        (dbus.Double(1.5), 1.5),
        (dbus.String("active"), "active"),
        (dbus.ObjectPath("/org/freedesktop/systemd1/job/7"), "/org/freedesktop/systemd1/job/7"),
        (dbus.Array([dbus.String("a.conf"), dbus.String("b.conf")], signature="s"), ["a.conf", "b.conf"]),
        (dbus.Array([dbus.Byte(79), dbus.Byte(75)], signature="y"), b"OK"),
        (dbus.Struct((dbus.String("/run/docker.sock"), dbus.Boolean(True))), ("/run/docker.sock", True)),
        (dbus.Dictionary({dbus.String("k"): dbus.UInt32(1)}, signature="su"), {"k": 1}),
    ],
)
def test_to_python_value(value: object, expected: object) -> None:
    converted = to_python(value)

    assert converted == expected
    assert type(converted) is type(expected)


def test_to_python_nested_types() -> None:
    value = dbus.Array(
        [dbus.Struct((dbus.String("Stream"), dbus.String("/run/docker.sock")))], signature="(ss)",
    )

    converted = to_python(value)

    assert converted == [("Stream", "/run/docker.sock")]
    assert type(converted[0][0]) is str


@pytest.mark.parametrize(
    ("name", "error_type", "phrase"),
    [
        ("org.freedesktop.DBus.Error.AccessDenied", ServiceError, "Run dhconf as root"),
        ("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", ServiceError, "Run dhconf as root"),
        ("org.freedesktop.systemd1.NoSuchUnit", UnitNotFound, "list-unit-files"),
        ("org.freedesktop.systemd1.LoadFailed", UnitNotFound, "list-unit-files"),
        ("org.freedesktop.systemd1.UnitMasked", ServiceError, "systemctl unmask docker.service"),
        ("org.freedesktop.DBus.Error.ServiceUnknown", BusUnreachable, "cannot reach systemd over D-Bus at"),
        ("org.freedesktop.DBus.Error.NoServer", BusUnreachable, "cannot reach systemd over D-Bus at"),
        ("org.freedesktop.DBus.Error.FileNotFound", BusUnreachable, "cannot reach systemd over D-Bus at"),
        ("org.freedesktop.DBus.Error.Failed", ServiceError, "org.freedesktop.DBus.Error.Failed"),
    ],
)
def test_translate_error_by_name(name: str, error_type: type, phrase: str) -> None:
    # A D-Bus error as dbus-python raises it. A test running as root beside a
    # live bus cannot produce a denial or a dead bus for real.
    err = dbus.DBusException("the text from the bus", name=name)

    translated = translate_error(err, action="restart", unit="docker.service",
                                 address="unix:path=/run/dbus/system_bus_socket", scope="system")

    assert type(translated) is error_type
    assert phrase in translated.message
    assert "the text from the bus" in translated.message
    assert translated.details["dbus_error"] == name


def test_translate_error_user_scope_hint() -> None:
    err = dbus.DBusException("Unit x.service not found.", name="org.freedesktop.systemd1.NoSuchUnit")

    translated = translate_error(err, action="restart", unit="x.service", address="unix:path=/tmp/bus",
                                 scope="user")

    assert "systemctl --user list-unit-files" in translated.message


def test_bus_address_system_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SYSTEM_BUS_ADDRESS", raising=False)

    assert bus_address("system") == "unix:path=/run/dbus/system_bus_socket"


def test_bus_address_session_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/session-bus")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")

    assert bus_address("user") == "unix:path=/tmp/session-bus"


def test_bus_address_from_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")

    assert bus_address("user") == "unix:path=/run/user/1000/bus"


def test_bus_address_without_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)

    with pytest.raises(BusUnreachable, match="XDG_RUNTIME_DIR"):
        bus_address("user")
