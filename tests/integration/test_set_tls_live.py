"""``set --tlsverify`` on real parts: dockerd restarted with mutual TLS, then probed with and without a client certificate.

One bed serves the module: a systemd user manager running Debian's dockerd
on a unix socket, a CA, a server certificate for 127.0.0.1 and a client
certificate made with openssl. One ``set --tlsverify`` per module makes
dockerd serve TLS on a loopback port; the probes use that port.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dhconf.operations import rollback_last
from dhconf.probe import TlsFiles
from tests.bed.dockerd import TlsMaterial, free_port, make_tls_files
from tests.bed.systemd_user import systemd_user_bed
from tests.integration.test_set_live import Completed, LiveDocker, run_dhconf

pytestmark = pytest.mark.integration


@dataclass
class TlsBed:
    docker: LiveDocker
    tls: TlsMaterial
    env: dict[str, str]
    port: int

    @property
    def tcp_host(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def set_args(self, server_key: Path) -> list[str]:
        """``set`` with the unix socket, the TLS port, the daemon's files and the probe's client pair."""
        return [
            "set", "-H", self.docker.unix_host, "-H", self.tcp_host,
            "--tlsverify", "--tlscacert", str(self.tls.cacert), "--tlscert", str(self.tls.server_cert),
            "--tlskey", str(server_key),
            "--client-cert", str(self.tls.client_cert), "--client-key", str(self.tls.client_key),
        ]


@pytest.fixture(scope="module")
def tls_bed() -> Iterator[TlsBed]:
    with systemd_user_bed() as bed:
        unit = bed.start_docker()
        tls = make_tls_files(bed.root / "tls", server_ips=("127.0.0.1",))
        # dhconf rejects a daemon key that other users can read.
        tls.server_key.chmod(0o600)
        env = {**os.environ, **bed.env}
        yield TlsBed(docker=LiveDocker(bed=bed, unit=unit), tls=tls, env=env, port=free_port())


@dataclass
class TlsChange:
    result: Completed
    pid_before: int


@pytest.fixture(scope="module")
def tls_change(tls_bed: TlsBed) -> TlsChange:
    """Run ``set --tlsverify`` once for the module."""
    pid_before = tls_bed.docker.main_pid()
    result = run_dhconf(tls_bed.env, *tls_bed.set_args(tls_bed.tls.server_key))
    return TlsChange(result=result, pid_before=pid_before)


def test_server_key_is_owner_only(tls_bed: TlsBed) -> None:
    assert stat.S_IMODE(tls_bed.tls.server_key.stat().st_mode) == 0o600


def test_set_rejects_shared_server_key(tls_bed: TlsBed, tmp_path: Path) -> None:
    shared_key = tmp_path / "server-key.pem"
    shutil.copyfile(tls_bed.tls.server_key, shared_key)
    shared_key.chmod(0o644)
    dropin = tls_bed.docker.dropin
    dropin_before = dropin.read_bytes() if dropin.exists() else None
    pid_before = tls_bed.docker.main_pid()

    result = run_dhconf(tls_bed.env, *tls_bed.set_args(shared_key))

    assert result.returncode == 2, result.describe()
    assert "chmod 600" in result.document["error"]["message"]
    assert (dropin.read_bytes() if dropin.exists() else None) == dropin_before
    assert tls_bed.docker.main_pid() == pid_before


def test_set_tlsverify_and_verify(tls_bed: TlsBed, tls_change: TlsChange) -> None:
    result = tls_change.result

    assert result.returncode == 0, result.describe()
    assert result.document["changed"] is True
    assert "--tlsverify" in tls_bed.docker.dropin.read_text()
    pid_after = tls_bed.docker.main_pid()
    assert pid_after != 0
    assert pid_after != tls_change.pid_before
    checks = {check["host"]: check for check in result.document["verify"]}
    assert set(checks) == {tls_bed.docker.unix_host, tls_bed.tcp_host}
    for check in checks.values():
        assert check["ok"] is True, check
        assert check["server_version"], check


@pytest.mark.usefixtures("tls_change")
def test_probe_without_client_cert_fails(tls_bed: TlsBed) -> None:
    result = run_dhconf(tls_bed.env, "probe", "-H", tls_bed.tcp_host, "--tlscacert", str(tls_bed.tls.cacert))

    assert result.returncode == 1, result.describe()
    [check] = result.document["verify"]
    assert check["ok"] is False
    assert "requires a client certificate" in check["error"], check
    assert "--tlscert" in check["error"], check


@pytest.mark.usefixtures("tls_change")
def test_probe_with_client_cert_succeeds(tls_bed: TlsBed) -> None:
    result = run_dhconf(
        tls_bed.env, "probe", "-H", tls_bed.tcp_host, "--tlscacert", str(tls_bed.tls.cacert),
        "--tlscert", str(tls_bed.tls.client_cert), "--tlskey", str(tls_bed.tls.client_key),
    )

    assert result.returncode == 0, result.describe()
    [check] = result.document["verify"]
    assert check["ok"] is True, check
    assert check["server_version"], check


@pytest.mark.usefixtures("tls_change")
def test_rollback_verifies_tls_binding(tls_bed: TlsBed, monkeypatch: pytest.MonkeyPatch) -> None:
    unix_only = run_dhconf(tls_bed.env, "set", "-H", tls_bed.docker.unix_host)
    assert unix_only.returncode == 0, unix_only.describe()
    # The library call reaches the bed's manager through the process environment.
    for name, value in tls_bed.env.items():
        monkeypatch.setenv(name, value)
    client = TlsFiles(cacert=str(tls_bed.tls.cacert), cert=str(tls_bed.tls.client_cert),
                      key=str(tls_bed.tls.client_key))

    outcome = rollback_last(scope="user", probe_tls=client, notify=lambda message: None)

    checks = {check["host"]: check for check in outcome.verify}
    assert set(checks) == {tls_bed.docker.unix_host, tls_bed.tcp_host}
    for check in checks.values():
        assert check["ok"] is True, check
