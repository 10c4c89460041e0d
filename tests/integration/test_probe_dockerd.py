"""Tests for dhconf.probe against a real dockerd (Debian's docker.io) started by the test."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from dhconf.hosts import parse_host
from dhconf.probe import ProbeResult, TlsFiles, probe_hosts
from tests.bed.dockerd import TlsMaterial, free_port, make_tls_files, running_dockerd

pytestmark = pytest.mark.integration

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def client_files(material: TlsMaterial) -> TlsFiles:
    return TlsFiles(str(material.cacert), str(material.client_cert), str(material.client_key))


def test_unix_and_tcp_same_daemon(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    hosts = [
        f"unix://{tmp_path / 'docker.sock'}",
        f"tcp://127.0.0.1:{free_port()}",
        f"tcp://[::1]:{free_port('::1')}",
    ]
    with running_dockerd(tmp_path, hosts) as daemon:
        record_property("dockerd_ready_seconds", round(daemon.ready_seconds, 2))
        results = probe_hosts([parse_host(host) for host in hosts], deadline=30)

    assert [result.error for result in results] == [None, None, None]
    assert len({result.id for result in results}) == 1
    assert len({result.server_version for result in results}) == 1
    assert results[0].server_version


def test_probe_waits_for_starting_dockerd(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    # dockerd 20.10+ sleeps 1 s before opening a TCP listener without mutual
    # TLS, so the first attempts are refused and the probe has to retry.
    tcp = f"tcp://127.0.0.1:{free_port()}"
    results: list[ProbeResult] = []
    waits: list[str] = []
    started = time.monotonic()
    prober = threading.Thread(
        target=lambda: results.extend(
            probe_hosts([parse_host(tcp)], deadline=60, on_wait=waits.append)
        )
    )
    prober.start()
    try:
        with running_dockerd(tmp_path, [f"unix://{tmp_path / 'docker.sock'}", tcp]):
            prober.join(60)
    finally:
        prober.join()
    served_after = time.monotonic() - started
    record_property("tcp_served_after_seconds", round(served_after, 2))
    log.info("dockerd served %s %.2f s after the probe began", tcp, served_after)

    assert results[0].ok, results[0].error
    assert results[0].attempts > 1
    assert len(waits) == 1


def test_mtls_with_client_cert_succeeds(
    tmp_path: Path, tls_material: TlsMaterial
) -> None:
    tcp = f"tcp://127.0.0.1:{free_port()}"
    with running_dockerd(tmp_path, [tcp], extra_args=tls_material.daemon_args()):
        result = probe_hosts([parse_host(tcp)], tls=client_files(tls_material), deadline=30)[0]

    assert result.ok, result.error
    assert result.server_version


def test_mtls_without_client_cert_fails_clearly(
    tmp_path: Path, tls_material: TlsMaterial
) -> None:
    tcp = f"tcp://127.0.0.1:{free_port()}"
    with running_dockerd(tmp_path, [tcp], extra_args=tls_material.daemon_args()):
        started = time.monotonic()
        result = probe_hosts([parse_host(tcp)], tls=TlsFiles(str(tls_material.cacert)), deadline=30)[0]
        elapsed = time.monotonic() - started

    assert not result.ok
    assert "the daemon requires a client certificate: pass --tlscert and --tlskey" in result.error
    assert elapsed < 15


def test_plain_to_tls_port_explained(
    tmp_path: Path, tls_material: TlsMaterial
) -> None:
    tcp = f"tcp://127.0.0.1:{free_port()}"
    with running_dockerd(tmp_path, [tcp], extra_args=tls_material.daemon_args()):
        result = probe_hosts([parse_host(tcp)], deadline=30)[0]

    assert "serves TLS and got a plain HTTP request" in result.error
    assert result.attempts == 1


def test_tls_to_plain_port_explained(tmp_path: Path, tls_material: TlsMaterial) -> None:
    tcp = f"tcp://127.0.0.1:{free_port()}"
    with running_dockerd(tmp_path, [tcp]):
        result = probe_hosts([parse_host(tcp)], tls=client_files(tls_material), deadline=30)[0]

    assert "it serves plain HTTP" in result.error
    assert result.attempts == 1
