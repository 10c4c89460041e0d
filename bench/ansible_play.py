"""Ansible: the dhconf collection's module against the tasks that roles use today and the bare sequence.

On the live bed, each round adds a TCP binding on 127.0.0.1 and removes it
again with three sides, and times two plays that show what any play costs:

- dhconf: one task, ``dhconf.docker_hosts.docker_hosts`` with ``scope: user``
  and ``state: present`` (or ``absent``); it writes, restarts and verifies.
- today's playbook, the tasks of roles such as kubespray's docker role:
  ``ansible.builtin.file`` makes the drop-in directory,
  ``ansible.builtin.copy`` writes the drop-in (or ``ansible.builtin.file``
  deletes it) and notifies a handler that runs
  ``ansible.builtin.systemd_service`` with ``scope: user``,
  ``daemon_reload`` and ``state: restarted``; ``meta: flush_handlers``, then
  ``ansible.builtin.uri`` polls ``/_ping`` over the unix socket until it
  returns 200.
- the bare sequence of ``bench/live.py``: write the drop-in,
  ``systemctl --user daemon-reload``, ``systemctl --user restart docker``,
  poll curl every 100 ms.
- the Ansible floor: a play with no task, and a play with one
  ``ansible.builtin.ping`` task.

Every Ansible play skips fact gathering and gets the bed's bus and directories
through the play's ``environment``. The order of the sides rotates from
round to round, and differences and ratios are taken within each round.
systemd stamps when dockerd left the active state and when it was ready
again, so the bench measures each run's time outside that restart window.
The window's length varies by about a second from run to run on every side,
because dockerd's stop sometimes takes a second longer.

Run from the repository root, as root: ``.venv/bin/python bench/ansible_play.py``
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    REPO,
    VENV,
    Report,
    Summary,
    Timing,
    arguments,
    bytecode_cache,
    command_line,
    ms,
    ratio,
    rotated,
    summarize,
    timed_run,
    verdict,
)
from bench.live import LiveBed, live_bed  # noqa: E402

COLLECTION = REPO / "packaging" / "ansible"
MODULE = "dhconf.docker_hosts.docker_hosts"
ANSIBLE_PLAYBOOK = str(VENV / "bin" / "ansible-playbook")
# The dhconf play's time above the bare sequence, at most this share of today's playbook's time above it.
TARGET_SHARE = 0.5
TARGET_RATIO = 1.10  # the earlier target: the dhconf play at most 10% slower than today's playbook
WARMUP_ROUNDS = 1
RUN_TIMEOUT = 300.0

SIDES = (
    ("dhconf add", "dhconf remove"),
    ("playbook add", "playbook remove"),
    ("bare add", "bare remove"),
    ("empty play", "ping play"),
)
# PLAY RECAP's "changed" count per play: the playbook's copy (or file) task and its handler each change.
EXPECTED_CHANGED = {"dhconf add": 1, "dhconf remove": 1, "playbook add": 2, "playbook remove": 2,
                    "empty play": 0, "ping play": 0}
RETRY_LINE = "FAILED - RETRYING"  # the default callback prints it before each retry of an until loop

_RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$", re.MULTILINE)


def install_collection(workdir: Path, env: dict[str, str]) -> Path:
    """Build the collection and install it as a user would; return the collections path."""
    galaxy = str(VENV / "bin" / "ansible-galaxy")
    built, installed = workdir / "built", workdir / "collections"
    built.mkdir()
    timed_run([galaxy, "collection", "build", str(COLLECTION), "--output-path", str(built)], env=env)
    (tarball,) = built.glob("*.tar.gz")
    timed_run([galaxy, "collection", "install", "--offline", "-p", str(installed), str(tarball)], env=env)
    return installed


def ansible_env(workdir: Path, base: dict[str, str], collections: Path | None = None) -> dict[str, str]:
    """Return ``base`` without ANSIBLE_* variables, plus Ansible's directories under ``workdir``."""
    inherited = {key: value for key, value in base.items() if not key.startswith("ANSIBLE_")}
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


def ansible_missing() -> str | None:
    """Return why the Ansible bench cannot run here, or None when it can."""
    if not (COLLECTION / "galaxy.yml").is_file():
        return f"{COLLECTION.relative_to(REPO)}/galaxy.yml does not exist (the collection is not written yet)"
    if not os.access(ANSIBLE_PLAYBOOK, os.X_OK):
        return "ansible-playbook is not in the venv; install ansible-core ('.venv/bin/pip install ansible-core')"
    return None


def ansible_version() -> str:
    completed = subprocess.run([ANSIBLE_PLAYBOOK, "--version"], capture_output=True, text=True, check=False)
    return completed.stdout.splitlines()[0] if completed.stdout else "ansible-playbook (version unknown)"


def write_yaml(path: Path, document: Any) -> Path:
    """Write ``document`` as YAML, multi-line strings as literal blocks, as people write a drop-in."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def literal(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)

    Dumper.add_representer(str, literal)
    path.write_text(yaml.dump(document, Dumper=Dumper, sort_keys=False, width=1000))
    return path


def playbooks(workdir: Path, live: LiveBed) -> dict[str, Path]:
    """Write the playbooks of the three sides and the two floor plays, and return their paths by name."""
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
    documents = {
        "dhconf add": play("Add a TCP binding with dhconf", [{"name": "Add tcp to dockerd's bindings", MODULE: {
            "scope": "user", "state": "present", "hosts": [live.tcp_host]}}]),
        "dhconf remove": play("Remove the TCP binding with dhconf", [{"name": "Remove tcp", MODULE: {
            "scope": "user", "state": "absent", "hosts": [live.tcp_host]}}]),
        "playbook add": play("Add a TCP binding with a drop-in", [
            {"name": "Create the drop-in directory", "ansible.builtin.file": {
                "path": str(dropin_dir), "state": "directory", "mode": "0755"}},
            {"name": "Write the drop-in", "ansible.builtin.copy": {
                "dest": str(dropin_dir / "override.conf"), "mode": "0644",
                "content": f"[Service]\nExecStart=\nExecStart={exec_start}\n"}, "notify": "Restart docker"},
            flush, ping], restart),
        "playbook remove": play("Remove the TCP binding", [
            {"name": "Delete the drop-in", "ansible.builtin.file": {
                "path": str(dropin_dir / "override.conf"), "state": "absent"}, "notify": "Restart docker"},
            flush, ping], restart),
        "empty play": play("No task", []),
        "ping play": play("One module", [{"name": "Ping", "ansible.builtin.ping": {}}]),
    }
    return {name: write_yaml(workdir / f"{name.replace(' ', '-')}.yml", document)
            for name, document in documents.items()}


def _exec_start_with_tcp(live: LiveBed) -> str:
    """Return the ExecStart= value of the bare script's drop-in, with each ``-H=VALUE`` written ``-H VALUE``.

    dhconf renders ``-H VALUE`` and rewrites a drop-in that has ``-H=VALUE``
    even when the bindings are already in place. In the ``-H VALUE`` form,
    a drop-in written by today's playbook leaves dhconf nothing to change,
    which the check-mode bench needs for its "applied" state.
    """
    for line in live.bare_script.read_text().splitlines():
        if line.startswith("ExecStart=") and line != "ExecStart=":
            return line.removeprefix("ExecStart=").replace(" -H=", " -H ")
    raise SystemExit(f"bench: no ExecStart= line in {live.bare_script}")


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """Return the PLAY RECAP counts per host."""
    _, _, tail = stdout.rpartition("PLAY RECAP")
    return {
        match["host"]: {key: int(value) for key, value in (pair.split("=") for pair in match["counts"].split())}
        for match in _RECAP.finditer(tail)
    }


def ansible_playbook(playbook: Path, env: dict[str, str], *, check: bool = False, inventory: str = "localhost,",
                     forks: int | None = None) -> Timing:
    """Run ``ansible-playbook -c local`` with the venv's Python as the interpreter, and time it."""
    argv = [ANSIBLE_PLAYBOOK, "-i", inventory, "-c", "local", "-e", f"ansible_python_interpreter={PYTHON}",
            *(["--forks", str(forks)] if forks is not None else []), *(["--check"] if check else []), str(playbook)]
    return timed_run(argv, env=env, timeout=RUN_TIMEOUT)


def expect_changed(stdout: str, name: str, changed: int, hosts: int = 1) -> None:
    """Fail the bench unless every host's PLAY RECAP shows ``changed`` changes and no failure."""
    counts = recap(stdout)
    wrong = {host: found for host, found in counts.items()
             if found.get("changed") != changed or found.get("failed") or found.get("unreachable")}
    if wrong or len(counts) != hosts:
        raise SystemExit(f"bench: {name} should report changed={changed} on {hosts} host(s), got {counts}; "
                         f"its output:\n{stdout[-3000:]}")


@dataclass
class Run:
    """One timed run: wall and CPU time, and systemd's restart window when it restarted dockerd."""

    wall: float
    cpu: float
    restart: float | None = None  # from ActiveExitTimestamp to ActiveEnterTimestamp (stop, start, READY=1)
    retries: int = 0  # retries of the uri poll

    @property
    def outside_restart(self) -> float:
        return self.wall - (self.restart or 0.0)


def restart_window(live: LiveBed, started: float, name: str) -> float:
    """Return how long dockerd was down, as systemd stamped it, after checking that ``name`` restarted it.

    systemd's *TimestampMonotonic values are CLOCK_MONOTONIC microseconds,
    the clock of Python's ``time.monotonic()``.
    """
    properties = live.bed.systemctl("show", "-p", "ActiveExitTimestampMonotonic",
                                    "-p", "ActiveEnterTimestampMonotonic", live.unit.name).stdout
    stamps = dict(line.split("=", 1) for line in properties.splitlines() if "=" in line)
    left, ready = (int(stamps[key]) / 1_000_000 for key in ("ActiveExitTimestampMonotonic",
                                                             "ActiveEnterTimestampMonotonic"))
    if left < started or ready < left:
        raise SystemExit(f"bench: {name} did not restart dockerd (left active at {left:.3f}, ready at {ready:.3f}, "
                         f"run started at {started:.3f})")
    return ready - left


def run_one(name: str, live: LiveBed, env: dict[str, str], paths: dict[str, Path]) -> Run:
    started = time.monotonic()
    if name.startswith("bare "):
        timing = timed_run(live.bare(name.removeprefix("bare ")), env=live.env, timeout=RUN_TIMEOUT)
    else:
        timing = ansible_playbook(paths[name], env)
        # A play with no task prints no host in its PLAY RECAP.
        expect_changed(timing.completed.stdout, name, EXPECTED_CHANGED[name], hosts=0 if name == "empty play" else 1)
    restarts = name not in ("empty play", "ping play")
    return Run(timing.wall, timing.cpu, restart_window(live, started, name) if restarts else None,
               timing.completed.stdout.count(RETRY_LINE))


def measure(live: LiveBed, env: dict[str, str], paths: dict[str, Path], rounds: int) -> dict[str, list[Run]]:
    # The bare sequence leaves the drop-in directory behind, so every play finds it, whichever runs first.
    for action in ("add", "remove"):
        timed_run(live.bare(action), env=live.env, timeout=RUN_TIMEOUT)
    runs: dict[str, list[Run]] = {}
    for index in range(WARMUP_ROUNDS + rounds):
        for side in rotated(SIDES, index):
            for name in side:
                run = run_one(name, live, env, paths)
                if index >= WARMUP_ROUNDS:
                    runs.setdefault(name, []).append(run)
    return runs


def main() -> int:
    args = arguments("The dhconf Ansible module against today's drop-in playbook and the bare sequence, "
                     "on the live bed.", rounds=8)
    report = Report("Ansible: apply with a restart", command_line())
    missing = ansible_missing()
    if missing:
        report.add(f"Not measured: {missing}. The plays this script compares are described in its docstring.")
        report.emit(None)
        return 0
    with bytecode_cache(), tempfile.TemporaryDirectory(prefix="dhconf-bench-") as scratch, live_bed() as live:
        workdir = Path(scratch)
        collections = install_collection(workdir, ansible_env(workdir, live.env))
        env = ansible_env(workdir, live.env, collections)
        paths = playbooks(workdir, live)
        runs = measure(live, env, paths, args.rounds)
        playbook_text = paths["playbook add"].read_text()

    report.add(f"{args.rounds} rounds after {WARMUP_ROUNDS} warm-up round, {ansible_version()}, `ansible-playbook "
               "-i localhost, -c local` with the venv's Python as the interpreter; the dhconf collection is built "
               "from packaging/ansible and installed with ansible-galaxy. Each round runs, in rotating order: "
               "the dhconf play adding the TCP binding and removing it, today's playbook doing the same, the bare "
               "sequence doing the same, then a play with no task and a play with one ping task.")
    report.add()
    report.data["overhead"] = report_overhead(report, runs)
    report.data["ratios"] = report_ratio(report, runs)
    retries = {name: sum(run.retries for run in runs[name]) for name in ("playbook add", "playbook remove")}
    report.add(f"Retries of the uri poll on `/_ping` over all measured runs: add {retries['playbook add']}, "
               f"remove {retries['playbook remove']} (systemctl returns once dockerd sent READY=1).")
    report.add()
    report.add("Today's playbook, as run (add):")
    report.add()
    report.add("```yaml\n" + playbook_text.rstrip() + "\n```")
    report.add()
    report.data["runs"] = {name: [asdict(run) for run in value] for name, value in runs.items()}
    report.data["uri_retries"] = retries
    report.emit(args.json)
    return 0


def report_overhead(report: Report, runs: dict[str, list[Run]]) -> dict[str, Any]:
    """Report each side's time, its time above the bare sequence, and the target on that overhead."""
    rows = []
    for name in ("dhconf add", "playbook add", "bare add", "dhconf remove", "playbook remove", "bare remove"):
        found = runs[name]
        rows.append([name, ms(summarize([r.wall for r in found])), ms(summarize([r.restart for r in found])),
                     ms(summarize([r.outside_restart for r in found]))])
    for name in ("empty play", "ping play"):
        rows.append([name, ms(summarize([r.wall for r in runs[name]])), "—", "—"])
    report.table(["run", "wall time", "restart window (systemd)", "outside the restart window"], rows)

    data: dict[str, Any] = {}
    rows = []
    shares: dict[str, Summary] = {}
    for action in ("add", "remove", "add + remove"):
        for basis in ("wall", "outside restart"):
            dhconf_over, playbook_over = (
                [mine - bare for mine, bare in zip(_per_round(runs, side, action, basis),
                                                   _per_round(runs, "bare", action, basis))]
                for side in ("dhconf", "playbook"))
            share = summarize([a / b for a, b in zip(dhconf_over, playbook_over)])
            if basis == "outside restart":
                shares[action] = share
            rows.append([action, basis, ms(summarize(playbook_over)), ms(summarize(dhconf_over)), ratio(share)])
            data[f"{action}, {basis}"] = {"playbook_over_bare": summarize(playbook_over).to_json(),
                                          "dhconf_over_bare": summarize(dhconf_over).to_json(),
                                          "share": share.to_json()}
    report.add("Time above the bare sequence, per round (a side's time minus the bare sequence's of the same "
               "round); outside the restart window subtracts each run's own restart window first:")
    report.add()
    report.table(["operation", "basis", "today's playbook − bare", "dhconf play − bare",
                  "(dhconf − bare) / (playbook − bare)"], rows)
    met = shares["add"].median <= TARGET_SHARE and shares["remove"].median <= TARGET_SHARE
    report.add(f"Target: the dhconf play's time above the bare sequence at most {TARGET_SHARE:.0%} of today's "
               f"playbook's, outside the restart window — add {shares['add'].median:.3f}, remove "
               f"{shares['remove'].median:.3f} (add + remove {shares['add + remove'].median:.3f}): {verdict(met)}.")
    report.add()

    empty, ping = (summarize([r.wall for r in runs[name]]) for name in ("empty play", "ping play"))
    module = summarize([b.wall - a.wall for a, b in zip(runs["empty play"], runs["ping play"])])
    report.add(f"The Ansible floor: a play with no task takes {empty.median * 1000:.0f} ms, one ping task "
               f"{ping.median * 1000:.0f} ms; one module task adds {module.median * 1000:.0f} ms "
               f"(IQR {module.q1 * 1000:.0f}–{module.q3 * 1000:.0f}) per round.")
    report.add()
    data["floor"] = {"empty_play": empty.to_json(), "ping_play": ping.to_json(), "one_module": module.to_json()}
    return data


def _per_round(runs: dict[str, list[Run]], side: str, action: str, basis: str) -> list[float]:
    """Return one side's time per round, as wall time or outside the restart window.

    For "add + remove", each round's value is the sum of both runs.
    """
    def value(run: Run) -> float:
        return run.wall if basis == "wall" else run.outside_restart

    actions = ("add", "remove") if action == "add + remove" else (action,)
    return [sum(value(run) for run in pair) for pair in zip(*(runs[f"{side} {name}"] for name in actions))]


def report_ratio(report: Report, runs: dict[str, list[Run]]) -> dict[str, Any]:
    """Report the earlier comparison: the dhconf play's wall time over today's playbook's, per round."""
    ratios = {action: summarize([a.wall / b.wall for a, b in zip(runs[f"dhconf {action}"],
                                                                 runs[f"playbook {action}"])])
              for action in ("add", "remove")}
    met = all(summary.median <= TARGET_RATIO for summary in ratios.values())
    report.add(f"dhconf play / today's playbook, wall time per round: add {ratio(ratios['add'])}, remove "
               f"{ratio(ratios['remove'])}; the earlier target of ≤ {TARGET_RATIO:.2f}x: {verdict(met)}.")
    report.add()
    return {action: summary.to_json() for action, summary in ratios.items()}


if __name__ == "__main__":
    sys.exit(main())
