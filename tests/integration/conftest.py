"""Fixtures for tests on real parts: a systemd user manager, dockerd, loopback ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.bed.systemd_user import SystemdUserBed, systemd_user_bed


@pytest.fixture
def systemd_bed(monkeypatch: pytest.MonkeyPatch) -> Iterator[SystemdUserBed]:
    """A systemd user manager with its own bus; the environment points dhconf at it."""
    with systemd_user_bed() as bed:
        for name, value in bed.env.items():
            monkeypatch.setenv(name, value)
        yield bed


@dataclass
class HeldPort:
    """A TCP port on 127.0.0.1 held by a listener of the test, so dockerd cannot bind it."""

    listener: socket.socket

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    @property
    def host(self) -> str:
        """The port as a dockerd ``-H`` value."""
        return f"tcp://127.0.0.1:{self.port}"

    def release(self) -> None:
        self.listener.close()


@pytest.fixture
def held_port() -> Iterator[HeldPort]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield HeldPort(listener)
    finally:
        listener.close()
