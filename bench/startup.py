"""Start-up: ``dhconf --version`` and ``dhconf --root TREE --json detect`` against Python's floors.

Each round runs every command once, in an order that rotates from round to
round, so the two sides of each ratio share the same moment of the machine.
Ratios are taken per round, then summarized. More commands split the cost.
A minimal typer app with one option is the floor of any typer command line
on the installed typer. The detect library call runs without the CLI. When
Debian's python3-typer is installed, the dhconf commands also run on the
Debian package's stack (/usr/bin/python3, typer 0.7.0 on click).

Then ``python -X importtime`` on detect shows what it imports: jinja2, dbus,
ssl and http.client must not be among them.

Run from the repository root: ``.venv/bin/python bench/startup.py``
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    DHCONF,
    PYTHON,
    REPO,
    SYSTEM_PYTHON,
    Report,
    Summary,
    arguments,
    bytecode_cache,
    command_line,
    debian_style_tree,
    ms,
    ratio,
    rotated,
    summarize,
    timed_run,
    upstream_tree,
    verdict,
)


TARGET_DETECT_RATIO = 1.5
DETECT = "dhconf --root UPSTREAM --json detect"
WARMUP_ROUNDS = 2
PROFILE_RUNS = 5
# Only apply, restart and probe need these modules, so detect must not import them.
FORBIDDEN = ("jinja2", "dbus", "_dbus_bindings", "ssl", "_ssl", "http.client")

# The smallest typer program shaped like dhconf: a callback with an option and a command.
TYPER_APP = """\
import typer
app = typer.Typer()
@app.callback()
def options(root: str = typer.Option("/", "--root")) -> None:
    pass
@app.command()
def detect() -> None:
    print("{}")
app()
"""

LIBRARY_DETECT = (
    "import json, sys; from dhconf.detect import detect; from dhconf.rootfs import RootFS; "
    "print(json.dumps(detect(RootFS(sys.argv[1])).to_json()))"
)

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$")


@dataclass
class Command:
    argv: list[str]
    floor: str | None  # the command whose time divides this one's, round by round
    env: dict[str, str] | None = None


def commands(upstream: Path, debian: Path, typer_app: Path) -> dict[str, Command]:
    venv_floor = 'python -c "import typer"'
    found = {
        "python -c pass": Command([PYTHON, "-c", "pass"], None),
        venv_floor: Command([PYTHON, "-c", "import typer"], None),
        "typer app with one option": Command([PYTHON, str(typer_app), "--root", "/", "detect"], venv_floor),
        "dhconf --version": Command([DHCONF, "--version"], venv_floor),
        DETECT: Command([DHCONF, "--root", str(upstream), "--json", "detect"], venv_floor),
        "dhconf --root DEBIAN --json detect": Command([DHCONF, "--root", str(debian), "--json", "detect"], venv_floor),
        "library detect, no CLI (UPSTREAM)": Command([PYTHON, "-c", LIBRARY_DETECT, str(upstream)], venv_floor),
    }
    if _debian_typer():
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        debian_floor = 'Debian: python3 -c "import typer"'
        found[debian_floor] = Command([SYSTEM_PYTHON, "-c", "import typer"], None)
        found["Debian: python3 -m dhconf --version"] = Command(
            [SYSTEM_PYTHON, "-m", "dhconf", "--version"], debian_floor, env)
        found["Debian: python3 -m dhconf --root UPSTREAM --json detect"] = Command(
            [SYSTEM_PYTHON, "-m", "dhconf", "--root", str(upstream), "--json", "detect"], debian_floor, env)
    return found


def _debian_typer() -> bool:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import typer, click"], capture_output=True, check=False)
    return probe.returncode == 0


def measure(argvs: dict[str, Command], rounds: int) -> dict[str, dict[str, list[float]]]:
    names = list(argvs)
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in names}
    for index in range(WARMUP_ROUNDS + rounds):
        for name in rotated(names, index):
            timing = timed_run(argvs[name].argv, env=argvs[name].env)
            if index >= WARMUP_ROUNDS:
                samples[name]["wall"].append(timing.wall)
                samples[name]["cpu"].append(timing.cpu)
    return samples


def per_round_ratios(samples: dict[str, dict[str, list[float]]], top: str, bottom: str, kind: str) -> Summary:
    return summarize([a / b for a, b in zip(samples[top][kind], samples[bottom][kind])])


def import_profile(upstream: Path, runs: int = PROFILE_RUNS) -> list[tuple[int, int, int, str]]:
    """Return (self µs, cumulative µs, depth, module) for each import of detect.

    Each figure is the median of ``runs`` runs with a warm bytecode cache.
    """
    argv = [PYTHON, "-X", "importtime", DHCONF, "--root", str(upstream), "--json", "detect"]
    timed_run(argv)  # fills the bytecode cache for the modules that only this run imports
    per_module: dict[tuple[int, str], list[tuple[int, int]]] = {}
    order: list[tuple[int, str]] = []
    for _ in range(runs):
        for line in timed_run(argv).completed.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if not match:
                continue
            own, cumulative, indent, module = match.groups()
            key = (len(indent) // 2, module)
            if key not in per_module:
                per_module[key] = []
                order.append(key)
            per_module[key].append((int(own), int(cumulative)))
    return [
        (int(statistics.median(v[0] for v in per_module[key])),
         int(statistics.median(v[1] for v in per_module[key])), key[0], key[1])
        for key in order
    ]


def report_imports(report: Report, rows: list[tuple[int, int, int, str]]) -> None:
    modules = [row[3] for row in rows]
    found = sorted({module for module in modules if module in FORBIDDEN or module.startswith(("jinja2.", "dbus."))})
    total = sum(row[1] for row in rows if row[2] == 0)
    report.add(f"`python -X importtime` on detect (median of {PROFILE_RUNS} runs per module): {len(modules)} modules, "
               f"{total / 1000:.0f} ms of imports in all.")
    report.add(f"Forbidden modules imported (jinja2, dbus, ssl, http.client): "
               f"{', '.join(found) if found else 'none'} — target {verdict(not found)}.")
    report.add()
    top_level = sorted((row for row in rows if row[2] == 0), key=lambda row: row[1], reverse=True)[:12]
    report.add("Top-level imports by cumulative time:")
    report.add()
    report.table(["module", "cumulative", "self"],
                 [[f"`{module}`", f"{cumulative / 1000:.1f} ms", f"{own / 1000:.1f} ms"]
                  for own, cumulative, _, module in top_level])
    own_modules = sorted((row for row in rows if row[3].startswith("dhconf")), key=lambda row: row[0], reverse=True)
    report.add("dhconf's own modules by self time: " + ", ".join(
        f"`{module}` {own / 1000:.1f} ms" for own, _, _, module in own_modules[:8]) + ".")
    report.add()
    report.data["imports"] = [{"self_us": r[0], "cumulative_us": r[1], "depth": r[2], "module": r[3]} for r in rows]
    report.data["forbidden_found"] = found


def main() -> int:
    args = arguments("Start-up time of dhconf against python -c pass and import typer.", rounds=20)
    report = Report("Start-up", command_line())
    with bytecode_cache(), tempfile.TemporaryDirectory(prefix="dhconf-bench-") as scratch:
        upstream = upstream_tree(Path(scratch) / "upstream")
        debian = debian_style_tree(Path(scratch) / "debian")
        typer_app = Path(scratch) / "typer_app.py"
        typer_app.write_text(TYPER_APP)
        argvs = commands(upstream, debian, typer_app)
        samples = measure(argvs, args.rounds)
        rows = import_profile(upstream)

    ratios = {
        name: {kind: per_round_ratios(samples, name, command.floor, kind) for kind in ("wall", "cpu")}
        for name, command in argvs.items() if command.floor is not None
    }
    report.add(f"{args.rounds} rounds after {WARMUP_ROUNDS} warm-up rounds; each round runs every command once, "
               "the order rotating; bytecode is cached (PYTHONPYCACHEPREFIX), as for an installed package. Wall time is the process's from Python's subprocess.run; CPU time is its "
               "user + system time. Ratios divide each command by its floor in the same round. "
               "UPSTREAM is Docker CE's unit and socket (moby v29.0.0) with Debian's /etc/default/docker; "
               "DEBIAN is a unit that loads /etc/default/docker and expands $DOCKER_OPTS. Rows marked Debian "
               f"run {SYSTEM_PYTHON} with Debian's python3-typer, dhconf from this checkout on PYTHONPATH.")
    report.add()
    table = []
    for name, command in argvs.items():
        if name in ratios:
            ratio_text = f"{ratio(ratios[name]['wall'])} / {ratio(ratios[name]['cpu'])}"
        else:
            ratio_text = f"floor for {_floor_of(argvs, name)}"
        table.append([f"`{name}`", ms(summarize(samples[name]["wall"])), ms(summarize(samples[name]["cpu"])),
                      ratio_text])
    report.table(["command", "wall time", "CPU time", "ratio to its floor, wall / CPU"], table)
    detect = ratios[DETECT]
    met = detect["wall"].median <= TARGET_DETECT_RATIO
    report.add(f"Target: detect within {TARGET_DETECT_RATIO}x of `{argvs[DETECT].floor}` — wall "
               f"{detect['wall'].median:.2f}x, CPU {detect['cpu'].median:.2f}x: {verdict(met)}.")
    report.add()
    report_imports(report, rows)
    report.data["samples_s"] = samples
    report.data["ratios"] = {name: {kind: value.to_json() for kind, value in pair.items()}
                             for name, pair in ratios.items()}
    report.emit(args.json)
    return 0


def _floor_of(argvs: dict[str, Command], name: str) -> str:
    users = [f"`{other}`" for other, command in argvs.items() if command.floor == name]
    return "the rows below" if users else "nothing (for scale)"


if __name__ == "__main__":
    sys.exit(main())
