"""UnitState and connect: the parts that need no running service manager."""

from __future__ import annotations

import logging
import sys

import pytest

import dhconf.service

from dhconf.errors import InvalidInput
from dhconf.service.base import UnitState, connect
from dhconf.service.systemctl import SystemctlManager


@pytest.mark.parametrize(
    ("unit", "state", "expected"),
    [
        ("docker.service", UnitState("active", "running", "success", 0), True),
        ("docker.service", UnitState("active", "running", "success", 0, "done"), True),
        ("docker.service", UnitState("active", "running", "success", 0, "failed"), False),
        ("docker.service", UnitState("active", "exited", "success", 0), False),
        ("docker.service", UnitState("activating", "auto-restart", "exit-code", 1), False),
        ("docker.service", UnitState("failed", "failed", "exit-code", 1), False),
        ("docker.socket", UnitState("active", "listening", "success", 0), True),
        ("docker.socket", UnitState("inactive", "dead", "success", 0), False),
    ],
)
def test_unit_state_is_up(unit: str, state: UnitState, expected: bool) -> None:
    assert state.is_up(unit) is expected


def test_unit_state_describe() -> None:
    text = UnitState("failed", "failed", "exit-code", 1, "failed").describe()

    assert text == "ActiveState=failed, SubState=failed, Result=exit-code, ExecMainStatus=1, job result=failed"


@pytest.mark.parametrize(("scope", "prefer"), [("session", "dbus"), ("user", "busctl")])
def test_connect_rejects_invalid_arguments(scope: str, prefer: str) -> None:
    with pytest.raises(InvalidInput):
        connect(scope, prefer=prefer)


def test_connect_without_dbus_python(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # None in sys.modules makes the import fail, as on a host without dbus-python.
    monkeypatch.setitem(sys.modules, "dhconf.service.systemd_dbus", None)
    monkeypatch.delattr(dhconf.service, "systemd_dbus", raising=False)

    with caplog.at_level(logging.WARNING, logger="dhconf.service.base"):
        manager = connect("system")

    assert isinstance(manager, SystemctlManager)
    assert "Cannot import dbus-python" in caplog.text
