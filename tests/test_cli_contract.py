"""The CLI contract: one JSON document with --json, exit codes, and no live probing of a --root tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trees import OS_RELEASE, Corpus, make_tree


def dhconf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhconf", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path, os_release=OS_RELEASE["ubuntu-16.04"], systemd=True, files={
        "/lib/systemd/system/docker.service": Corpus("upstream/moby-v29.0.0-docker.service"),
        "/lib/systemd/system/docker.socket": Corpus("upstream/moby-v29.0.0-docker.socket"),
    })


def test_usage_error_is_json_with_json(tree: Path) -> None:
    result = dhconf("--root", str(tree), "--json", "set", "--bogus")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["code"] == "usage"
    assert "--bogus" in result.stderr


def test_json_after_command(tree: Path) -> None:
    result = dhconf("--root", str(tree), "set", "--json", "--dry-run", "-H", "fd://")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dry_run"] is True


def test_missing_root_rejected() -> None:
    result = dhconf("--root", "/nonexistent/dhconf-tree", "detect")
    assert result.returncode == 2
    assert "no such directory" in result.stderr


@pytest.mark.parametrize("args", [("show", "--probe"), ("probe",)])
def test_probe_of_root_tree_rejected(tree: Path, args: tuple[str, ...]) -> None:
    result = dhconf("--root", str(tree), *args)
    assert result.returncode == 2
    assert "host tree" in result.stderr


def test_negative_timeout_rejected(tree: Path) -> None:
    result = dhconf("--root", str(tree), "set", "--timeout", "-5", "-H", "fd://")
    assert result.returncode == 2


def test_rollback_dry_run_after_unknown(tree: Path) -> None:
    assert dhconf("--root", str(tree), "set", "-H", "fd://", "-H", "tcp://127.0.0.1:2376").returncode == 0

    result = dhconf("--root", str(tree), "--json", "rollback", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hosts"]["after"] is None


def test_help_has_no_bool_placeholder() -> None:
    result = dhconf("set", "--help")
    assert result.returncode == 0
    assert "<bool>" not in result.stdout
