"""systemctl show values to Python, and systemctl faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from dhconf.errors import ServiceError
from dhconf.service.systemctl import SystemctlManager, convert_property


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("NeedDaemonReload", "yes", True),
        ("NeedDaemonReload", "no", False),
        ("ExecMainStatus", "203", 203),
        ("MainPID", "0", 0),
        ("MainPID", "", ""),
        ("DropInPaths", "/etc/systemd/system/docker.service.d/a.conf /run/b.conf",
         ["/etc/systemd/system/docker.service.d/a.conf", "/run/b.conf"]),
        ("DropInPaths", "", []),
        ("ActiveState", "active", "active"),
        ("FragmentPath", "/lib/systemd/system/docker.service", "/lib/systemd/system/docker.service"),
    ],
)
def test_convert_property(name: str, text: str, expected: object) -> None:
    converted = convert_property(name, text)

    assert converted == expected
    assert type(converted) is type(expected)


def test_missing_systemctl(tmp_path: Path) -> None:
    manager = SystemctlManager("system", systemctl=str(tmp_path / "systemctl"))

    with pytest.raises(ServiceError, match="not found"):
        manager.state("docker.service")
