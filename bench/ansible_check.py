"""Ansible check mode: the dhconf module against today's playbook, and across many --root host trees.

1. On the live bed, ``ansible-playbook --check`` runs the dhconf play and
   today's playbook of ``bench/ansible_play.py`` (adding the TCP binding),
   and a play with one ping task, in rotating order within each round. It
   does so in two states: the binding missing (both report a change, and
   today's playbook runs its restart handler in check mode) and the binding
   already there (neither has anything to do). Check mode restarts nothing;
   the bench fails if dockerd was restarted.
2. Without the bed, the dhconf play runs in check mode over N host trees,
   one inventory host per tree with ``ansible_connection=local``, the venv's
   Python as ``ansible_python_interpreter`` and a fixed ``--forks``. Each tree
   is Docker CE's unit and socket with Debian's /etc/default/docker, as in
   tests/test_set_cases.py, so every host reports one change. The figure is
   the time per host as N grows.

Run from the repository root, as root: ``.venv/bin/python bench/ansible_check.py``
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ansible_play import (  # noqa: E402
    MODULE,
    Run,
    ansible_env,
    ansible_missing,
    ansible_playbook,
    ansible_version,
    expect_changed,
    install_collection,
    playbooks,
    write_yaml,
)
from bench.common import (  # noqa: E402
    PYTHON,
    Report,
    argument_parser,
    bytecode_cache,
    command_line,
    ms,
    ratio,
    rotated,
    summarize,
    upstream_tree,
    verdict,
)
from bench.live import LiveBed, live_bed  # noqa: E402

TARGET_SPEEDUP = 2.0  # today's playbook in check mode at least 2x the dhconf play's time
# "Flat" per-host time: 100 hosts may cost at most 10% more per host than 10 hosts.
TARGET_FLAT = 1.10
SIZES = (1, 10, 100)
LARGE = 100  # the size that gets --large-rounds instead of --tree-rounds
FORKS = 10
TREE_HOST = "tcp://127.0.0.1:2375"
WARMUP_ROUNDS = 1

# PLAY RECAP's "changed" count per play and state. Pending: the playbook's copy task and its handler.
EXPECTED_CHANGED = {("pending", "dhconf add"): 1, ("pending", "playbook add"): 2, ("pending", "ping play"): 0,
                    ("applied", "dhconf add"): 0, ("applied", "playbook add"): 0, ("applied", "ping play"): 0}
BED_PLAYS = ("dhconf add", "playbook add", "ping play")
STATES = {"pending": "binding missing (a change to make)", "applied": "binding already there (nothing to do)"}


def check_on_bed(live: LiveBed, env: dict[str, str], paths: dict[str, Path],
                 rounds: int) -> dict[str, dict[str, list[Run]]]:
    """Time the plays with --check in both states, and return the runs by state and play."""

    def apply(name: str, changed: int = 2) -> None:
        expect_changed(ansible_playbook(paths[name], env).completed.stdout, name, changed)

    # Leaves the drop-in directory behind, as on a host where a drop-in was written and removed before.
    apply("playbook add", changed=3)
    apply("playbook remove")
    runs: dict[str, dict[str, list[Run]]] = {}
    for state in STATES:
        if state == "applied":
            apply("playbook add")
        ready_before = live.active_enter_monotonic()
        for index in range(WARMUP_ROUNDS + rounds):
            for name in rotated(BED_PLAYS, index):
                timing = ansible_playbook(paths[name], env, check=True)
                expect_changed(timing.completed.stdout, f"{name} --check", EXPECTED_CHANGED[(state, name)])
                if index >= WARMUP_ROUNDS:
                    runs.setdefault(state, {}).setdefault(name, []).append(Run(timing.wall, timing.cpu))
        if live.active_enter_monotonic() != ready_before:
            raise SystemExit("bench: dockerd was restarted during the check-mode runs")
        if state == "applied":
            apply("playbook remove")
    return runs


def tree_inventory(workdir: Path, count: int) -> Path:
    """Lay out ``count`` host trees and write an inventory with one local host per tree."""
    lines = ["[trees]"]
    for number in range(count):
        root = upstream_tree(workdir / f"trees-{count}" / f"tree{number:03d}")
        lines.append(f"tree{number:03d} ansible_connection=local ansible_python_interpreter={PYTHON} "
                     f"tree_root={root}")
    inventory = workdir / f"inventory-{count}.ini"
    inventory.write_text("\n".join(lines) + "\n")
    return inventory


def check_over_trees(workdir: Path, env: dict[str, str], tree_rounds: int,
                     large_rounds: int) -> dict[int, list[Run]]:
    """Time the dhconf play with --check over N trees for each N, and return the runs by N."""
    playbook = write_yaml(workdir / "trees-check.yml", [{
        "name": "Add a TCP binding in every tree", "hosts": "all", "gather_facts": False,
        "tasks": [{"name": "Add tcp", MODULE: {"root": "{{ tree_root }}", "state": "present",
                                               "hosts": [TREE_HOST]}}],
    }])
    inventories = {count: tree_inventory(workdir, count) for count in SIZES}
    runs: dict[int, list[Run]] = {}
    for index in range(WARMUP_ROUNDS + max(tree_rounds, large_rounds)):
        measured = index - WARMUP_ROUNDS
        for count in rotated(SIZES, index):
            if index < WARMUP_ROUNDS and count == LARGE:
                continue  # the smaller sizes already fill the bytecode cache and the page cache
            if measured >= (large_rounds if count == LARGE else tree_rounds):
                continue
            timing = ansible_playbook(playbook, env, check=True, inventory=str(inventories[count]), forks=FORKS)
            expect_changed(timing.completed.stdout, f"the check over {count} trees", 1, hosts=count)
            if index >= WARMUP_ROUNDS:
                runs.setdefault(count, []).append(Run(timing.wall, timing.cpu))
    return runs


def main() -> int:
    parser = argument_parser("The dhconf Ansible module in check mode: against today's playbook on the live bed, "
                             "and over N --root host trees.", rounds=8)
    parser.add_argument("--tree-rounds", type=int, default=5, help="measured rounds of the smaller tree counts "
                                                                   "(default 5)")
    parser.add_argument("--large-rounds", type=int, default=3, help=f"measured rounds of {LARGE} trees (default 3)")
    args = parser.parse_args()
    report = Report("Ansible: check mode", command_line())
    missing = ansible_missing()
    if missing:
        report.add(f"Not measured: {missing}. The plays this script compares are described in its docstring.")
        report.emit(None)
        return 0
    with bytecode_cache(), tempfile.TemporaryDirectory(prefix="dhconf-bench-") as scratch:
        workdir = Path(scratch)
        with live_bed() as live:
            collections = install_collection(workdir, ansible_env(workdir, live.env))
            env = ansible_env(workdir, live.env, collections)
            bed_runs = check_on_bed(live, env, playbooks(workdir, live), args.rounds)
        tree_env = ansible_env(workdir, dict(os.environ), collections)
        tree_runs = check_over_trees(workdir, tree_env, args.tree_rounds, args.large_rounds)

    report.add(f"{ansible_version()}, `ansible-playbook --check -c local` with the venv's Python as the "
               "interpreter, the dhconf collection built from packaging/ansible and installed with ansible-galaxy.")
    report.add()
    report.data["bed"] = report_bed(report, bed_runs, args.rounds)
    report.data["trees"] = report_trees(report, tree_runs)
    report.emit(args.json)
    return 0


def report_bed(report: Report, runs: dict[str, dict[str, list[Run]]], rounds: int) -> dict[str, Any]:
    report.add("### On the live bed")
    report.add()
    report.add(f"{rounds} rounds after {WARMUP_ROUNDS} warm-up round per state; the order of the plays rotates. "
               "The plays are those of the apply bench, adding the TCP binding, and its play with one ping task, "
               "run with `--check`.")
    report.add()
    rows = []
    data: dict[str, Any] = {}
    speedups = {}
    for state, described in STATES.items():
        mine, theirs, floor = (runs[state][name] for name in BED_PLAYS)
        speedups[state] = summarize([b.wall / a.wall for a, b in zip(mine, theirs)])
        rows.append([described, ms(summarize([r.wall for r in mine])), ms(summarize([r.wall for r in theirs])),
                     ratio(speedups[state]), ms(summarize([r.wall for r in floor]))])
        data[state] = {"speedup": speedups[state].to_json(),
                       "runs": {name: [asdict(run) for run in value] for name, value in runs[state].items()}}
    report.table(["state", "dhconf play --check", "today's playbook --check", "playbook / dhconf (per round)",
                  "one ping task --check"], rows)
    met = all(summary.median >= TARGET_SPEEDUP for summary in speedups.values())
    report.add(f"Target: the dhconf play at least {TARGET_SPEEDUP:.0f}x faster in check mode — "
               f"{speedups['pending'].median:.2f}x with a change to make, {speedups['applied'].median:.2f}x with "
               f"nothing to do: {verdict(met)}.")
    report.add()
    return data


def report_trees(report: Report, runs: dict[int, list[Run]]) -> dict[str, Any]:
    report.add("### Over N host trees")
    report.add()
    report.add(f"One inventory host per tree (`ansible_connection=local`, the venv's Python), `--forks {FORKS}`, "
               f"one task: the module with `root: \"{{{{ tree_root }}}}\"` and `hosts: [{TREE_HOST}]`. The sizes "
               "rotate within each round; the warm-up round skips the largest.")
    report.add()
    rows = []
    data: dict[str, Any] = {}
    for count in SIZES:
        found = runs[count]
        per_host = summarize([run.wall / count for run in found])
        cpu_per_host = summarize([run.cpu / count for run in found])
        rows.append([str(count), str(len(found)), ms(summarize([run.wall for run in found])), ms(per_host),
                     ms(cpu_per_host)])
        data[str(count)] = {"per_host_s": per_host.to_json(), "cpu_per_host_s": cpu_per_host.to_json(),
                            "runs": [asdict(run) for run in found]}
    report.table(["trees", "rounds", "wall time", "wall time per host", "CPU time per host"], rows)

    small, large = SIZES[-2], SIZES[-1]
    paired = list(zip(runs[small], runs[large]))
    flat = summarize([(b.wall / large) / (a.wall / small) for a, b in paired])
    marginal = summarize([(b.wall - a.wall) / (large - small) for a, b in paired])
    report.add(f"Per host, {large} trees against {small}, in the {len(paired)} rounds that ran both: {ratio(flat)}. "
               f"Each tree beyond {small} adds {ms(marginal)} of wall time.")
    report.add()
    report.add(f"Target: time per host flat as N grows ({large} against {small} at most {TARGET_FLAT:.2f}x) — "
               f"{flat.median:.2f}x: {verdict(flat.median <= TARGET_FLAT)}.")
    report.add()
    data["flat"] = flat.to_json()
    data["marginal_s"] = marginal.to_json()
    return data


if __name__ == "__main__":
    sys.exit(main())
