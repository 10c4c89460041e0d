"""The Debian package: built with dpkg-buildpackage, installed with apt-get, run with Debian's python3.

/usr/bin/dhconf runs on /usr/bin/python3 with Debian's own python3-typer
(0.7.0 on Debian 12) and python3-jinja2. The build installs the package on
this machine, which needs root. The tests purge it when they finish.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dhconf import __version__
from tests.packaging.helpers import (
    CORPUS_TREES,
    PACKAGING,
    UPSTREAM_TREE,
    CorpusTree,
    bash_completions,
    copy_source_tree,
    require,
    require_tools,
    run,
    system_env,
)

pytestmark = pytest.mark.packaging

DHCONF = Path("/usr/bin/dhconf")
APT_OPTIONS = ["-y", "-q", "-o", "DPkg::Lock::Timeout=120"]
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}

INSTALLED_FILES = [
    "./usr/bin/dhconf",
    "./usr/share/man/man1/dhconf.1.gz",
    "./usr/share/bash-completion/completions/dhconf",
    "./usr/share/zsh/vendor-completions/_dhconf",
    "./usr/share/fish/vendor_completions.d/dhconf.fish",
    "./usr/share/doc/dhconf/copyright",
    "./usr/lib/python3/dist-packages/dhconf/cli.py",
    "./usr/lib/python3/dist-packages/dhconf/templates/dropin.conf.j2",
]


def test_changelog_version_is_package_version() -> None:
    require_tools("dpkg-parsechangelog")
    result = run(["dpkg-parsechangelog", "-l", PACKAGING / "debian" / "changelog", "-S", "Version"], env=system_env())
    assert result.stdout.strip() == __version__


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools("dpkg-buildpackage", "dpkg-checkbuilddeps")
    work = tmp_path_factory.mktemp("deb")
    source = copy_source_tree(work / "dhconf")
    shutil.copytree(PACKAGING / "debian", source / "debian")

    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=source, env=system_env(), timeout=600)

    (package,) = work.glob("dhconf_*_all.deb")
    return package


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Path]:
    """Install the package with apt-get, which also installs Debian's python3-typer, python3-jinja2 and python3-dbus, then purge it."""
    require(os.geteuid() == 0, "installing the .deb needs root")
    require_tools("apt-get")
    run(["apt-get", "install", *APT_OPTIONS, "--no-install-recommends", deb], env=system_env(**APT_ENV), timeout=600)
    yield DHCONF
    run(["apt-get", "purge", *APT_OPTIONS, "dhconf"], env=system_env(**APT_ENV), timeout=600)


def package_field(deb: Path, field: str) -> str:
    return run(["dpkg-deb", "--field", deb, field], env=system_env()).stdout.strip()


def test_deb_name_has_version(deb: Path) -> None:
    assert deb.name == f"dhconf_{__version__}_all.deb"


@pytest.mark.parametrize("dependency", ["python3-typer", "python3-jinja2", "python3-dbus"])
def test_deb_depends_on(deb: Path, dependency: str) -> None:
    names = [entry.strip().split(" ")[0] for entry in package_field(deb, "Depends").split(",")]
    assert dependency in names


@pytest.mark.parametrize("path", INSTALLED_FILES)
def test_deb_contains(deb: Path, path: str) -> None:
    listing = run(["dpkg-deb", "--contents", deb], env=system_env()).stdout
    assert path in [line.split()[-1] for line in listing.splitlines()]


def test_script_uses_system_python(installed: Path) -> None:
    assert installed.read_text().splitlines()[0] == "#!/usr/bin/python3"


def test_system_python_imports_debian_typer(installed: Path, tmp_path: Path) -> None:
    program = "import typer; print(typer.__version__); print(typer.__file__)"
    version, location = run(["/usr/bin/python3", "-c", program], env=system_env(), cwd=tmp_path).stdout.split()
    packaged = run(["dpkg-query", "-W", "-f=${Version}", "python3-typer"], env=system_env()).stdout

    assert location.startswith("/usr/lib/python3/dist-packages/typer/")
    assert packaged.split("-")[0] == version


def test_version(installed: Path, tmp_path: Path) -> None:
    assert run([installed, "--version"], env=system_env(), cwd=tmp_path).stdout.strip() == f"dhconf {__version__}"


@pytest.mark.parametrize("tree", CORPUS_TREES, ids=[tree.name for tree in CORPUS_TREES])
def test_detect_json_on_corpus_tree(installed: Path, tmp_path: Path, tree: CorpusTree) -> None:
    root = tree.build(tmp_path / "root")
    output = run([installed, "--root", root, "--json", "detect"], env=system_env(), cwd=tmp_path).stdout
    assert json.loads(output)["hosts"] == tree.hosts


@pytest.mark.parametrize("tree", CORPUS_TREES, ids=[tree.name for tree in CORPUS_TREES])
def test_detect_text_on_corpus_tree(installed: Path, tmp_path: Path, tree: CorpusTree) -> None:
    root = tree.build(tmp_path / "root")
    output = run([installed, "--root", root, "detect"], env=system_env(), cwd=tmp_path).stdout
    for host in tree.hosts:
        assert host in output


def test_set_dry_run_with_debian_typer(installed: Path, tmp_path: Path) -> None:
    root = UPSTREAM_TREE.build(tmp_path / "root")
    output = run([installed, "--root", root, "--json", "set", "--dry-run", "-H", "fd://", "-H", "tcp://127.0.0.1:2376"],
                 env=system_env(), cwd=tmp_path).stdout
    document = json.loads(output)
    assert document["hosts"]["after"] == ["fd://", "tcp://127.0.0.1:2376"]
    assert [change["path"] for change in document["files"]] == ["/etc/systemd/system/docker.service.d/dhconf.conf"]


def test_usage_error_exit_code_with_debian_typer(installed: Path, tmp_path: Path) -> None:
    result = run([installed, "set", "--no-such-option"], env=system_env(), cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr


def test_man_finds_the_page(installed: Path) -> None:
    result = run(["man", "-w", "dhconf"], env=system_env())
    assert result.stdout.strip() == "/usr/share/man/man1/dhconf.1.gz"


def test_installed_page_renders_without_warnings(installed: Path) -> None:
    result = run(["man", "--warnings", "-Tutf8", "dhconf"], env=system_env(MANWIDTH="80"))
    assert result.stderr == ""


def test_bash_completion_installed(installed: Path) -> None:
    require_tools("bash")
    script = Path("/usr/share/bash-completion/completions/dhconf")
    assert "set" in bash_completions(script, ["dhconf", "se"])


def test_fish_loads_vendor_completion(installed: Path, tmp_path: Path) -> None:
    # fish looks in vendor_completions.d by itself; a private HOME keeps the user's config out.
    require_tools("fish")
    env = system_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    output = run(["fish", "-c", "complete --do-complete 'dhconf se'"], env=env).stdout
    assert "set" in [line.split("\t")[0] for line in output.splitlines()]


def test_zsh_searches_vendor_completions(installed: Path) -> None:
    require_tools("zsh")
    fpath = run(["zsh", "--no-rcs", "-c", "print -l $fpath"], env=system_env()).stdout.split()
    assert "/usr/share/zsh/vendor-completions" in fpath
