"""The docker_hosts module against a real dockerd restarted by a real systemd user manager."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.ansible.playbook_run import Ansible, module_task
from tests.bed.dockerd import free_port
from tests.bed.systemd_user import DockerUnit, SystemdUserBed, systemd_user_bed

pytestmark = pytest.mark.integration

ANSIBLE_HOST_FAILED = 2


@dataclass
class LiveDocker:
    bed: SystemdUserBed
    unit: DockerUnit

    @property
    def environment(self) -> dict[str, str]:
        """The play's environment: the bed's bus and config, and dhconf's journal under the bed."""
        return dict(self.bed.env)


@pytest.fixture
def live_docker() -> Iterator[LiveDocker]:
    with systemd_user_bed() as bed:
        yield LiveDocker(bed, bed.start_docker())


def tcp_ping(port: int) -> bool:
    """Return whether a Docker daemon returns OK to GET /_ping on 127.0.0.1:port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        return response.status == 200 and response.read() == b"OK"
    except OSError:
        return False
    finally:
        connection.close()


def test_add_tcp_verifies_both_bindings(ansible: Ansible, live_docker: LiveDocker) -> None:
    port = free_port("127.0.0.1")
    tcp = f"tcp://127.0.0.1:{port}"
    unix = f"unix://{live_docker.unit.socket_path}"
    task = module_task("add TCP", scope="user", hosts=[tcp])

    run = ansible.play([task], environment=live_docker.environment, diff=True)

    assert run.returncode == 0, f"{run}\n{live_docker.unit.read_output()[-2000:]}"
    result = run.result()["result"]
    assert result["changed"] is True
    assert result["hosts"]["after"] == [unix, tcp]
    answers = {check["host"]: check["ok"] for check in result["verify"]}
    assert answers == {unix: True, tcp: True}
    versions = [check["server_version"] for check in result["verify"]]
    assert None not in versions, result["verify"]
    assert len(set(versions)) == 1, result["verify"]
    assert result["restart"]["active_state"] == "active"
    assert tcp_ping(port)


def test_live_second_run_is_ok(ansible: Ansible, live_docker: LiveDocker) -> None:
    task = module_task("add TCP", scope="user", hosts=[f"tcp://127.0.0.1:{free_port('127.0.0.1')}"])
    first = ansible.play([task], environment=live_docker.environment)
    assert first.returncode == 0, first

    second = ansible.play([task], environment=live_docker.environment)

    assert second.returncode == 0, second
    assert second.recap()["localhost"]["changed"] == 0, second
    assert second.result()["result"]["restart"] is None


def test_held_port_rolls_back_and_fails(ansible: Ansible, live_docker: LiveDocker) -> None:
    unit_before = live_docker.unit.path.read_bytes()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        # The test keeps the port bound, so dockerd exits with "address already in use".
        held.bind(("127.0.0.1", 0))
        held.listen()
        tcp = f"tcp://127.0.0.1:{held.getsockname()[1]}"

        run = ansible.play([module_task("add a held port", scope="user", hosts=[tcp], timeout=60)],
                           environment=live_docker.environment)

    assert run.returncode == ANSIBLE_HOST_FAILED, run
    result = run.result()["result"]
    assert result["code"] == "rolled_back"
    assert result["rolled_back"] is True
    assert "address already in use" in result["msg"]
    assert result["msg"].startswith(
        "the change was rolled back: the previous files are restored and the daemon responds on "
        "its old bindings again"
    ), result["msg"]
    assert [check["ok"] for check in result["verify"]] == [True]
    assert live_docker.unit.path.read_bytes() == unit_before
    assert live_docker.unit.ping()
