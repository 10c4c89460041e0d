"""The RPM spec, checked with Debian's rpm tools: rpmspec parses it and rpmbuild makes the SRPM.

Debian has no Fedora pyproject macros (%pyproject_wheel and the rest), so the
binary RPM cannot be built here: see packaging/README.md.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from dhconf import __version__
from tests.packaging.helpers import PACKAGING, copy_source_tree, require_tools, run, system_env

pytestmark = pytest.mark.packaging

SPEC = PACKAGING / "rpm" / "dhconf.spec"


def rpm_query(spec: Path, query_format: str) -> str:
    return run(["rpmspec", "-q", "--srpm", "--queryformat", query_format, spec], env=system_env()).stdout


@pytest.fixture(scope="module")
def topdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create an rpmbuild tree whose SOURCES directory contains the source tarball that Source0 names."""
    require_tools("rpmbuild", "rpmspec")
    top = tmp_path_factory.mktemp("rpmbuild")
    source = copy_source_tree(top / f"dhconf-{__version__}")
    (top / "SOURCES").mkdir()
    with tarfile.open(top / "SOURCES" / f"dhconf-{__version__}.tar.gz", "w:gz") as archive:
        archive.add(source, arcname=source.name)
    return top


@pytest.fixture(scope="module")
def srpm(topdir: Path) -> Path:
    run(["rpmbuild", "-bs", "--define", f"_topdir {topdir}", SPEC], env=system_env(), timeout=300)
    (package,) = (topdir / "SRPMS").glob("dhconf-*.src.rpm")
    return package


def test_spec_parses() -> None:
    require_tools("rpmspec")
    result = run(["rpmspec", "-P", SPEC], env=system_env())
    assert result.stderr == ""


def test_spec_version_is_package_version() -> None:
    require_tools("rpmspec")
    assert rpm_query(SPEC, "%{VERSION}") == __version__


def test_spec_license() -> None:
    require_tools("rpmspec")
    assert rpm_query(SPEC, "%{LICENSE}") == "Apache-2.0"


@pytest.mark.parametrize("path", [
    "/usr/bin/dhconf",
    "/usr/share/man/man1/dhconf.1*",
    "/usr/share/bash-completion/completions/dhconf",
    "/usr/share/zsh/site-functions/_dhconf",
    "/usr/share/fish/vendor_completions.d/dhconf.fish",
])
def test_spec_lists_file(path: str) -> None:
    require_tools("rpmspec")
    expanded = run(["rpmspec", "-P", SPEC], env=system_env()).stdout
    files = expanded.split("%files", 1)[1].split("%changelog", 1)[0]
    assert path in files.splitlines()


def test_srpm_name(srpm: Path) -> None:
    assert srpm.name.startswith(f"dhconf-{__version__}-1")


@pytest.mark.parametrize("member", ["dhconf.spec", f"dhconf-{__version__}.tar.gz"])
def test_srpm_contains(srpm: Path, member: str) -> None:
    listing = run(["rpm", "-qpl", srpm], env=system_env()).stdout.split()
    assert member in listing


@pytest.mark.parametrize("requirement", ["python3-typer", "python3-jinja2", "python3-dbus", "python3-devel"])
def test_srpm_build_requires(srpm: Path, requirement: str) -> None:
    requires = run(["rpm", "-qp", "--requires", srpm], env=system_env()).stdout.split()
    assert requirement in requires
