"""Host sets that dockerd cannot listen on, and the socket unit left behind without fd://."""

from __future__ import annotations

from pathlib import Path

import pytest

from dhconf.errors import InvalidInput
from dhconf.hosts import parse_host
from dhconf.operations import change_hosts
from dhconf.plan import check_listeners
from dhconf.service.output import format_output, key_line
from tests.trees import OS_RELEASE, Corpus, make_tree


@pytest.mark.parametrize(
    "hosts",
    [
        ["tcp://localhost:2375", "tcp://127.0.0.1:2375"],
        ["tcp://0.0.0.0:2375", "tcp://127.0.0.1:2375"],
        ["tcp://[::]:2375", "tcp://[::1]:2375"],
        ["fd://", "fd://3"],
    ],
)
def test_listeners_that_clash_rejected(hosts: list[str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_listeners([parse_host(text) for text in hosts])
    assert "Keep one" in raised.value.message


@pytest.mark.parametrize(
    "hosts",
    [
        ["tcp://127.0.0.1:2375", "tcp://127.0.0.1:2376"],
        ["tcp://127.0.0.1:2375", "tcp://[::1]:2375"],
        ["fd://", "unix:///run/other.sock", "tcp://127.0.0.1:2375"],
    ],
)
def test_listeners_that_coexist_accepted(hosts: list[str]) -> None:
    check_listeners([parse_host(text) for text in hosts])


def _upstream_tree(root: Path) -> Path:
    return make_tree(root, os_release=OS_RELEASE["ubuntu-16.04"], systemd=True, files={
        "/lib/systemd/system/docker.service": Corpus("upstream/moby-v29.0.0-docker.service"),
        "/lib/systemd/system/docker.socket": Corpus("upstream/moby-v29.0.0-docker.socket"),
    })


def test_clash_writes_nothing(tmp_path: Path) -> None:
    root = _upstream_tree(tmp_path)
    with pytest.raises(InvalidInput):
        change_hosts(mode="set", hosts=["tcp://localhost:2375", "tcp://127.0.0.1:2375"], root=str(root))
    assert not (root / "etc/systemd/system").exists()


def test_dropping_fd_warns_about_socket(tmp_path: Path) -> None:
    root = _upstream_tree(tmp_path)

    outcome = change_hosts(mode="set", hosts=["tcp://127.0.0.1:2376"], root=str(root), dry_run=True)

    codes = {finding.code for finding in outcome.findings}
    assert "socket_left_listening" in codes


def test_keeping_fd_does_not_warn(tmp_path: Path) -> None:
    root = _upstream_tree(tmp_path)

    outcome = change_hosts(mode="add", hosts=["tcp://127.0.0.1:2376"], root=str(root), dry_run=True)

    assert "socket_left_listening" not in {finding.code for finding in outcome.findings}


DOCKERD_FAILURE = [
    'time="2026-12-04T20:19:33Z" level=info msg="Starting up"',
    'time="2026-12-04T20:19:33Z" level=warning msg="[core] grpc: addrConn.createTransport failed to connect"',
    "failed to start daemon: failed to load listeners: listen tcp 127.0.0.1:5: bind: address already in use",
    'time="2026-12-04T20:19:34Z" level=fatal msg="failed to load listeners: listen tcp 127.0.0.1:5: '
    'bind: address already in use"',
]


def test_key_line_is_the_fatal_message() -> None:
    assert key_line(DOCKERD_FAILURE) == (
        "failed to load listeners: listen tcp 127.0.0.1:5: bind: address already in use"
    )


def test_output_leads_with_the_cause() -> None:
    first_line = format_output("/tmp/dockerd.log", DOCKERD_FAILURE).splitlines()[0]
    assert first_line.startswith("The daemon said: failed to load listeners")
