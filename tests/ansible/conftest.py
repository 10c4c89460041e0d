"""Fixtures for the Ansible collection tests: the installed collection, a runner, a host tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ansible.playbook_run import Ansible, install_collection, make_upstream_tree


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection built from packaging/ansible and installed once per test session."""
    return install_collection(tmp_path_factory.mktemp("ansible-collection"))


@pytest.fixture
def ansible(tmp_path: Path, collections_path: Path) -> Ansible:
    return Ansible(tmp_path / "ansible", collections_path)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A host tree with Docker CE's docker.service and docker.socket and a running systemd."""
    return make_upstream_tree(tmp_path / "root")
