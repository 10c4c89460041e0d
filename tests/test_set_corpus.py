"""set on every corpus host tree: the result reads back as requested, and a second set changes nothing.

Each changed file is read back by its own reader. /bin/sh reads a file an
init script sources, and systemd's EnvironmentFile rules read an environment
file (the corpus tests check those rules against a live systemd). The unit
loader reads a drop-in or unit, and a JSON parser reads daemon.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dhconf.detect import detect
from dhconf.errors import NotSupported
from dhconf.operations import change_hosts
from dhconf.rootfs import RootFS
from tests.test_detect_corpus import TREES, Tree, _build
from tests.trees import sh_value

REQUESTED = ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2376"]

# Trees where dhconf refuses to write, and the words its reason must contain.
REFUSED = {
    # ExecStart runs a program that dhconf cannot see through; rewriting it could break the start.
    "system-unit-su-dockerd-rootless": "cannot rewrite",
    # DOCKER_OPTS refers to itself; systemd passes "${DOCKER_OPTS}" on as text.
    "ubuntu-dropin-relative-docker-with-self-reference": "remove them by hand",
    # OPTIONS contains "$DOCKER_STORAGE_OPTIONS", which systemd passes on as text.
    "centos7-redhat-1.3.2-unit-with-1.3.0-sysconfig": "remove them by hand",
    # A per-user daemon under OpenRC: no user manager to restart it through.
    "alpine-openrc-user-service": "systemd user manager only",
}


def _set(tree: Tree, root: Path) -> dict:
    outcome = change_hosts(
        mode="set", hosts=REQUESTED, root=str(root), scope=tree.scope, unit=tree.unit,
        environ=tree.environ, restart=False,
    )
    return outcome.to_json()


def _expected_after(document: dict) -> list[str]:
    """The requested hosts, with the default socket as fd:// where the socket unit provides it."""
    kept = any(finding["code"] == "socket_activation_kept" for finding in document["findings"])
    return [("fd://" if kept and host == REQUESTED[0] else host) for host in REQUESTED]


def _trees(*, writable_only: bool = False) -> list:
    return [
        pytest.param(tree, id=tree.name)
        for tree in TREES
        if not (writable_only and tree.name in REFUSED)
    ]


@pytest.mark.parametrize("tree", _trees())
def test_set_reads_back(tree: Tree, tmp_path: Path) -> None:
    root = _build(tree, tmp_path)
    if tree.name in REFUSED:
        with pytest.raises(NotSupported) as raised:
            _set(tree, root)
        assert REFUSED[tree.name] in raised.value.message
        return

    document = _set(tree, root)
    expected = _expected_after(document)
    detection = detect(RootFS(root), scope=tree.scope, unit=tree.unit, environ=tree.environ)

    assert sorted(str(host) for host in detection.hosts) == sorted(expected), document["files"]
    codes = {finding.code for finding in detection.findings}
    assert "hosts_conflict" not in codes
    assert "execstart_multiple" not in codes


@pytest.mark.parametrize("tree", _trees(writable_only=True))
def test_second_set_changes_nothing(tree: Tree, tmp_path: Path) -> None:
    root = _build(tree, tmp_path)
    _set(tree, root)

    again = _set(tree, root)

    assert again["changed"] is False, again["files"]


@pytest.mark.parametrize("tree", _trees(writable_only=True))
def test_changed_files_read_by_their_reader(tree: Tree, tmp_path: Path) -> None:
    root = _build(tree, tmp_path)

    document = _set(tree, root)

    expected = _expected_after(document)
    for changed in document["files"]:
        path = root / changed["path"].lstrip("/")
        if changed["path"].endswith(".json"):
            data = json.loads(path.read_text())
            if document["via"] == "daemon-json":
                assert data["hosts"] == expected
            else:
                assert "hosts" not in data
        elif "/systemd/" in changed["path"]:
            assert "ExecStart=" in path.read_text()
        elif _sourced_by_sh(document, changed["path"]):
            words = sh_value(path, _variable(tree, root, changed["path"])).split()
            assert [words[i + 1] for i, word in enumerate(words) if word == "-H"] == _own_hosts(tree, root, expected)


def _sourced_by_sh(document: dict, path: str) -> bool:
    return path.startswith("/etc/default/") or path.startswith("/etc/conf.d/") or path.startswith("/etc/sysconfig/")


def _variable(tree: Tree, root: Path, path: str) -> str:
    detection = detect(RootFS(root), scope=tree.scope, unit=tree.unit, environ=tree.environ)
    for source in detection.sources:
        if source.path == path and source.effective and source.variable:
            return source.variable
    raise AssertionError(f"no effective variable in {path}: {[s.to_json() for s in detection.sources]}")


def _own_hosts(tree: Tree, root: Path, expected: list[str]) -> list[str]:
    """The hosts the variable itself carries: all but those the unit's own command line passes."""
    detection = detect(RootFS(root), scope=tree.scope, unit=tree.unit, environ=tree.environ)
    from_unit = {host for source in detection.sources if source.kind == "unit" for host in source.hosts}
    return [host for host in expected if host not in from_unit]
