"""The wheel and the sdist from ``python -m build``, and the wheel installed in a fresh venv.

The installed dhconf runs from outside the checkout, so the drop-in that
``set --dry-run`` renders comes from the templates inside the wheel.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from dhconf import __version__
from tests.packaging.helpers import CORPUS_TREES, REPO, UPSTREAM_TREE, CorpusTree, copy_source_tree, require, run, system_env

pytestmark = pytest.mark.packaging

TEMPLATES = sorted(path.name for path in (REPO / "dhconf" / "templates").glob("*.j2"))


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(importlib.util.find_spec("build") is not None, "the 'build' module is not installed: pip install build")
    work = tmp_path_factory.mktemp("build")
    source = copy_source_tree(work / "source")
    output = work / "dist"
    run([sys.executable, "-m", "build", "--outdir", output, source], timeout=600, env=system_env(), cwd=work)
    return output


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (path,) = dist.glob("dhconf-*.whl")
    return path


@pytest.fixture(scope="module")
def sdist(dist: Path) -> Path:
    (path,) = dist.glob("dhconf-*.tar.gz")
    return path


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """Create a fresh venv with the wheel installed; typer and jinja2 come from PyPI."""
    directory = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", directory], env=system_env())
    run([directory / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], timeout=600, env=system_env())
    return directory


def dhconf(venv: Path, *args: str, cwd: Path) -> str:
    return run([venv / "bin" / "dhconf", *args], env=system_env(), cwd=cwd).stdout


def test_wheel_name_has_version(wheel: Path) -> None:
    assert wheel.name == f"dhconf-{__version__}-py3-none-any.whl"


@pytest.mark.parametrize("template", TEMPLATES)
def test_wheel_contains_template(wheel: Path, template: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        assert f"dhconf/templates/{template}" in archive.namelist()


@pytest.mark.parametrize("template", TEMPLATES)
def test_sdist_contains_template(sdist: Path, template: str) -> None:
    with tarfile.open(sdist) as archive:
        assert f"dhconf-{__version__}/dhconf/templates/{template}" in archive.getnames()


def test_wheel_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"dhconf-{__version__}.dist-info/entry_points.txt").decode()
    assert "dhconf = dhconf.cli:main" in entry_points


def test_installed_module_is_in_venv(venv: Path, tmp_path: Path) -> None:
    result = run([venv / "bin" / "python", "-c", "import dhconf; print(dhconf.__file__)"], env=system_env(), cwd=tmp_path)
    assert Path(result.stdout.strip()).is_relative_to(venv)


def test_version(venv: Path, tmp_path: Path) -> None:
    assert dhconf(venv, "--version", cwd=tmp_path).strip() == f"dhconf {__version__}"


@pytest.mark.parametrize("tree", CORPUS_TREES, ids=[tree.name for tree in CORPUS_TREES])
def test_detect_on_corpus_tree(venv: Path, tmp_path: Path, tree: CorpusTree) -> None:
    root = tree.build(tmp_path / "root")
    document = json.loads(dhconf(venv, "--root", str(root), "--json", "detect", cwd=tmp_path))
    assert document["hosts"] == tree.hosts


def test_set_dry_run_renders_dropin(venv: Path, tmp_path: Path) -> None:
    root = UPSTREAM_TREE.build(tmp_path / "root")
    output = dhconf(venv, "--root", str(root), "--json", "set", "--dry-run",
                    "-H", "fd://", "-H", "tcp://127.0.0.1:2376", cwd=tmp_path)
    document = json.loads(output)
    (change,) = document["files"]
    added = [line[1:] for line in change["diff"].splitlines() if line.startswith("+") and not line.startswith("+++")]

    assert change["path"] == "/etc/systemd/system/docker.service.d/dhconf.conf"
    assert added[0].startswith("# Managed by dhconf")
    assert "ExecStart=" in added
    assert "ExecStart=/usr/bin/dockerd -H fd:// -H tcp://127.0.0.1:2376 --containerd=/run/containerd/containerd.sock" in added
    assert not (root / "etc/systemd/system/docker.service.d").exists()
