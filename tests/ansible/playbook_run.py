"""Run the real ansible-playbook against the dhconf collection, and read what it reported.

The collection is built with ``ansible-galaxy collection build`` and installed
into a temp directory that ``ANSIBLE_COLLECTIONS_PATH`` names, as a user
would install it. Playbooks run with ``-c local`` and the venv's Python as
``ansible_python_interpreter``, so the module imports this checkout's dhconf.
A small callback plugin beside the default one writes every task result as
a JSON line, so tests check the screen and the return values apart.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTION_SOURCE = REPO / "packaging" / "ansible"
CALLBACK_PLUGINS = Path(__file__).resolve().parent / "callback_plugins"
CORPUS = Path(os.environ.get("DHCONF_CORPUS") or REPO.parent / "shared" / "corpus")
VENV_BIN = Path(sys.executable).parent

MODULE = "dhconf.docker_hosts.docker_hosts"
RUN_TIMEOUT = 300

UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'
UPSTREAM_UNIT = "upstream/moby-v29.0.0-docker.service"
UPSTREAM_SOCKET = "upstream/moby-v29.0.0-docker.socket"
DROPIN = "/etc/systemd/system/docker.service.d/dhconf.conf"

_RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$", re.MULTILINE)


def skip_or_fail(reason: str) -> None:
    """Skip for a missing tool or corpus file; under CI=true, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def ansible_tool(name: str) -> str:
    path = VENV_BIN / name
    if not os.access(path, os.X_OK):
        skip_or_fail(f"{path} not found: install ansible-core in the venv ('.venv/bin/pip install -e .[test]')")
    return str(path)


def corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        skip_or_fail(f"corpus file {str(path)!r} not found; set DHCONF_CORPUS to the corpus checkout")
    return path


def make_upstream_tree(root: Path) -> Path:
    """Lay out a host tree with Docker CE's unit and socket, as test_set_cases does; return ``root``."""
    files = {
        "/etc/os-release": UBUNTU,
        "/lib/systemd/system/docker.service": corpus_file(UPSTREAM_UNIT).read_text(),
        "/lib/systemd/system/docker.socket": corpus_file(UPSTREAM_SOCKET).read_text(),
    }
    for host_path, text in files.items():
        target = root / host_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (root / "run/systemd/system").mkdir(parents=True)
    return root


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` but dhconf's own state, with its content and mtime."""
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() and "var/lib/dhconf" not in str(path)
    }


def install_collection(workdir: Path) -> Path:
    """Build the collection from packaging/ansible and install it; return the collections path."""
    built = workdir / "built"
    installed = workdir / "collections"
    env = {**os.environ, "ANSIBLE_HOME": str(workdir / "home"), "ANSIBLE_NOCOLOR": "1"}
    galaxy = ansible_tool("ansible-galaxy")
    built.mkdir(parents=True)
    _run([galaxy, "collection", "build", str(COLLECTION_SOURCE), "--output-path", str(built)], env, workdir)
    (tarball,) = built.glob("*.tar.gz")
    _run([galaxy, "collection", "install", "--offline", "-p", str(installed), str(tarball)], env, workdir)
    return installed


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=cwd)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {completed.returncode}:\n{completed.stderr}")


@dataclass
class PlaybookRun:
    """What one ansible-playbook run printed and the task results it recorded."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    results: list[dict[str, Any]]

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\n[exit {self.returncode}]\n{self.stdout}\n{self.stderr}"

    def result(self, host: str = "localhost", task: str | None = None) -> dict[str, Any]:
        """Return the recorded entry (status and result) of one task on one host."""
        found = [entry for entry in self.results if entry["host"] == host and task in (None, entry["task"])]
        if len(found) != 1:
            raise AssertionError(f"expected one result for {host}/{task}, found {len(found)}:\n{self}")
        return found[0]

    def recap(self) -> dict[str, dict[str, int]]:
        """Return the PLAY RECAP counts per host."""
        _, _, tail = self.stdout.rpartition("PLAY RECAP")
        return {
            match["host"]: {key: int(value) for key, value in (pair.split("=") for pair in match["counts"].split())}
            for match in _RECAP.finditer(tail)
        }


class Ansible:
    """Runs playbooks in ``workdir`` against the installed collection."""

    def __init__(self, workdir: Path, collections: Path) -> None:
        self.workdir = workdir
        self.collections = collections
        self.count = 0
        workdir.mkdir(parents=True, exist_ok=True)

    def env(self, results: Path) -> dict[str, str]:
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
        return {
            **inherited,
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
            "ANSIBLE_HOME": str(self.workdir / "home"),
            "ANSIBLE_LOCAL_TEMP": str(self.workdir / "tmp"),
            "ANSIBLE_REMOTE_TEMP": str(self.workdir / "remote-tmp"),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_PLUGINS),
            "ANSIBLE_CALLBACKS_ENABLED": "record_results",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "DHCONF_ANSIBLE_RESULTS": str(results),
        }

    def play(
        self,
        tasks: Sequence[dict[str, Any]],
        *,
        check: bool = False,
        diff: bool = False,
        inventory: str = "localhost,",
        forks: int | None = None,
        environment: dict[str, str] | None = None,
        interpreter: str = sys.executable,
    ) -> PlaybookRun:
        """Write a one-play playbook with ``tasks`` for all hosts and run it."""
        play: dict[str, Any] = {"name": "dhconf test", "hosts": "all", "gather_facts": False, "tasks": list(tasks)}
        if environment is not None:
            play["environment"] = environment
        self.count += 1
        playbook = self.workdir / f"play-{self.count}.yml"
        # JSON is YAML: no quoting surprises in paths or Jinja expressions.
        playbook.write_text(json.dumps([play], indent=2))
        return self.run_playbook(playbook, check=check, diff=diff, inventory=inventory, forks=forks,
                                 interpreter=interpreter)

    def run_playbook(
        self,
        playbook: Path,
        *,
        check: bool = False,
        diff: bool = False,
        inventory: str = "localhost,",
        forks: int | None = None,
        interpreter: str = sys.executable,
        extra: Sequence[str] = (),
    ) -> PlaybookRun:
        results = self.workdir / f"results-{self.count}-{playbook.stem}.jsonl"
        results.unlink(missing_ok=True)
        argv = [ansible_tool("ansible-playbook"), "-i", inventory, "-c", "local",
                "-e", f"ansible_python_interpreter={interpreter}", str(playbook), *extra]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if forks is not None:
            argv += ["--forks", str(forks)]
        completed = subprocess.run(argv, env=self.env(results), capture_output=True, text=True,
                                   timeout=RUN_TIMEOUT, cwd=self.workdir)
        recorded = results.read_text().splitlines() if results.exists() else []
        return PlaybookRun(argv, completed.returncode, completed.stdout, completed.stderr,
                           [json.loads(line) for line in recorded])


    def doc(self, name: str = "dhconf.docker_hosts.docker_hosts") -> dict[str, Any]:
        """Return ``ansible-doc --json`` for a module of the installed collection."""
        argv = [ansible_tool("ansible-doc"), "--json", name]
        completed = subprocess.run(argv, env=self.env(self.workdir / "unused.jsonl"), capture_output=True,
                                   text=True, timeout=RUN_TIMEOUT, cwd=self.workdir)
        if completed.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited with {completed.returncode}:\n{completed.stderr}")
        return json.loads(completed.stdout)[name]


def module_task(name: str, **params: Any) -> dict[str, Any]:
    return {"name": name, MODULE: params}
