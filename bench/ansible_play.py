"""Ansible: the dhconf collection's module against the playbook people write today.

On the live bed, each round adds a TCP binding on 127.0.0.1 and removes it
again with two playbooks each, run by the real ``ansible-playbook -c local``:

- dhconf: one task, ``dhconf.docker_hosts.docker_hosts`` with ``scope: user``
  and ``state: present`` (or ``absent``); it writes, restarts and verifies.
- today's playbook: ``ansible.builtin.copy`` of a drop-in (or
  ``ansible.builtin.file`` to delete it) notifying a handler that runs
  ``ansible.builtin.systemd_service`` with ``daemon_reload`` and
  ``state: restarted``, ``meta: flush_handlers``, then
  ``ansible.builtin.uri`` on ``/_ping`` over the unix socket.

Both plays skip fact gathering. Which side goes first alternates from round
to round, and ratios are taken per round. Without ``packaging/ansible``
(the collection), the script prints why and measures nothing.

Run from the repository root, as root: ``.venv/bin/python bench/ansible_play.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    REPO,
    VENV,
    Report,
    arguments,
    bytecode_cache,
    command_line,
    ms,
    ratio,
    summarize,
    timed_run,
    verdict,
)
from bench.live import LiveBed, live_bed  # noqa: E402

COLLECTION = REPO / "packaging" / "ansible"
MODULE = "dhconf.docker_hosts.docker_hosts"
TARGET_RATIO = 1.10  # the target of the bare sequence: dhconf's module at most 10% slower
WARMUP_ROUNDS = 1
RUN_TIMEOUT = 300.0


def install_collection(workdir: Path, env: dict[str, str]) -> Path:
    """Build the collection and install it as a user would; return the collections path."""
    galaxy = str(VENV / "bin" / "ansible-galaxy")
    built, installed = workdir / "built", workdir / "collections"
    built.mkdir()
    timed_run([galaxy, "collection", "build", str(COLLECTION), "--output-path", str(built)], env=env)
    (tarball,) = built.glob("*.tar.gz")
    timed_run([galaxy, "collection", "install", "--offline", "-p", str(installed), str(tarball)], env=env)
    return installed


def ansible_env(workdir: Path, live: LiveBed, collections: Path | None = None) -> dict[str, str]:
    inherited = {key: value for key, value in live.env.items() if not key.startswith("ANSIBLE_")}
    env = {
        **inherited,
        "ANSIBLE_HOME": str(workdir / "home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(workdir / "remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
    }
    if collections is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    return env


def playbooks(workdir: Path, live: LiveBed) -> dict[str, Path]:
    """Write the four playbooks; return them by name."""
    import yaml

    environment = {key: live.env[key] for key in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
                                                  "DBUS_SESSION_BUS_ADDRESS", "XDG_STATE_HOME")}
    dropin_dir = Path(live.env["XDG_CONFIG_HOME"]) / "systemd" / "user" / "docker.service.d"
    exec_start = _exec_start_with_tcp(live)

    def play(name: str, tasks: list[dict[str, Any]], handlers: list[dict[str, Any]] | None = None) -> list[dict]:
        found: dict[str, Any] = {"name": name, "hosts": "all", "gather_facts": False,
                                 "environment": environment, "tasks": tasks}
        if handlers:
            found["handlers"] = handlers
        return [found]

    restart = [{"name": "Restart docker", "ansible.builtin.systemd_service": {
        "name": "docker", "scope": "user", "daemon_reload": True, "state": "restarted"}}]
    ping = {"name": "Wait for the Docker API", "ansible.builtin.uri": {
        "url": "http://localhost/_ping", "unix_socket": str(live.unit.socket_path), "return_content": True},
        "register": "ping", "until": "ping.status == 200", "retries": 60, "delay": 1}
    flush = {"ansible.builtin.meta": "flush_handlers"}
    found = {
        "dhconf add": play("Add a TCP binding with dhconf", [{"name": "Add tcp to dockerd's bindings", MODULE: {
            "scope": "user", "state": "present", "hosts": [live.tcp_host]}}]),
        "dhconf remove": play("Remove the TCP binding with dhconf", [{"name": "Remove tcp", MODULE: {
            "scope": "user", "state": "absent", "hosts": [live.tcp_host]}}]),
        "playbook add": play("Add a TCP binding with a drop-in", [
            {"name": "Write the drop-in", "ansible.builtin.copy": {
                "dest": str(dropin_dir / "override.conf"), "mode": "0644",
                "content": f"[Service]\nExecStart=\nExecStart={exec_start}\n"}, "notify": "Restart docker"},
            flush, ping], restart),
        "playbook remove": play("Remove the TCP binding", [
            {"name": "Delete the drop-in", "ansible.builtin.file": {
                "path": str(dropin_dir / "override.conf"), "state": "absent"}, "notify": "Restart docker"},
            flush, ping], restart),
    }
    class Dumper(yaml.SafeDumper):
        """A YAML dumper that writes multi-line strings as literal blocks, as people write a drop-in."""

    def literal(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)

    Dumper.add_representer(str, literal)
    paths = {}
    for name, document in found.items():
        path = workdir / f"{name.replace(' ', '-')}.yml"
        path.write_text(yaml.dump(document, Dumper=Dumper, sort_keys=False, width=1000))
        paths[name] = path
    return paths


def _exec_start_with_tcp(live: LiveBed) -> str:
    """Return the ExecStart= value of the bare script's drop-in: the installed command plus the TCP host."""
    for line in live.bare_script.read_text().splitlines():
        if line.startswith("ExecStart=") and line != "ExecStart=":
            return line.removeprefix("ExecStart=")
    raise SystemExit(f"bench: no ExecStart= line in {live.bare_script}")


def run_playbook(playbook: Path, env: dict[str, str]) -> float:
    argv = [str(VENV / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={PYTHON}", str(playbook)]
    timing = timed_run(argv, env=env, timeout=RUN_TIMEOUT)
    if "changed=1" not in timing.completed.stdout and "changed=2" not in timing.completed.stdout:
        raise SystemExit(f"bench: {playbook.name} reported no change, so it restarted nothing; "
                         f"its output:\n{timing.completed.stdout[-3000:]}")
    return timing.wall


def not_measured(report: Report, reason: str) -> int:
    report.add(f"Not measured yet: {reason}. The playbooks this script compares are described in its docstring.")
    report.emit(None)
    return 0


def main() -> int:
    args = arguments("The dhconf Ansible module against today's drop-in playbook, on the live bed.", rounds=4)
    report = Report("Ansible", command_line())
    if not (COLLECTION / "galaxy.yml").is_file():
        return not_measured(report, f"{COLLECTION.relative_to(REPO)}/galaxy.yml does not exist (the collection "
                                    "is not written yet)")
    if not os.access(VENV / "bin" / "ansible-playbook", os.X_OK):
        return not_measured(report, "ansible-playbook is not in the venv; install ansible-core "
                                    "('.venv/bin/pip install ansible-core')")
    walls: dict[str, list[float]] = {}
    with bytecode_cache(), tempfile.TemporaryDirectory(prefix="dhconf-bench-") as scratch, live_bed() as live:
        workdir = Path(scratch)
        collections = install_collection(workdir, ansible_env(workdir, live))
        env = ansible_env(workdir, live, collections)
        paths = playbooks(workdir, live)
        version = subprocess.run([str(VENV / "bin" / "ansible-playbook"), "--version"], capture_output=True,
                                 text=True, check=False).stdout.splitlines()[0]
        for index in range(WARMUP_ROUNDS + args.rounds):
            sides = [("dhconf add", "dhconf remove"), ("playbook add", "playbook remove")]
            for side in sides if index % 2 == 0 else reversed(sides):
                for name in side:
                    wall = run_playbook(paths[name], env)
                    if index >= WARMUP_ROUNDS:
                        walls.setdefault(name, []).append(wall)
        playbook_texts = {name: path.read_text() for name, path in paths.items()}

    report.add(f"{args.rounds} rounds after {WARMUP_ROUNDS} warm-up round, {version}, `ansible-playbook -i localhost, "
               "-c local` with the venv's Python as the interpreter; the dhconf collection is built from "
               "packaging/ansible and installed with ansible-galaxy. Each round adds the TCP binding and removes it "
               "with both playbook pairs; the side that goes first alternates.")
    report.add()
    rows = []
    ratios = {}
    for action in ("add", "remove"):
        mine, theirs = walls[f"dhconf {action}"], walls[f"playbook {action}"]
        ratios[action] = summarize([a / b for a, b in zip(mine, theirs)])
        rows.append([action, ms(summarize(mine)), ms(summarize(theirs)), ratio(ratios[action])])
    report.table(["operation", "dhconf module", "today's playbook", "dhconf / playbook (per round)"], rows)
    met = all(summary.median <= TARGET_RATIO for summary in ratios.values())
    report.add(f"Target (the same as for the bare sequence): ≤ {TARGET_RATIO:.2f}x — add {ratios['add'].median:.2f}x, "
               f"remove {ratios['remove'].median:.2f}x: {verdict(met)}.")
    report.add()
    report.add("Today's playbook, as run (add):")
    report.add()
    report.add("```yaml\n" + playbook_texts["playbook add"].rstrip() + "\n```")
    report.add()
    report.data["walls_s"] = walls
    report.data["ratios"] = {key: value.to_json() for key, value in ratios.items()}
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
