"""Memory: peak RSS of ``dhconf --scope user set`` with restart and verify, from ``/usr/bin/time -v``.

On the live bed, each round adds a TCP binding on 127.0.0.1 and removes it
again with dhconf, each run under GNU time (Debian's ``time`` package), which
reports the largest resident set of the process. For scale, the same is
measured for Python's floors, a typer app and ``dhconf detect``, alternating
with the set runs.

Run from the repository root, as root: ``.venv/bin/python bench/memory.py``
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    DHCONF,
    PYTHON,
    Report,
    arguments,
    bytecode_cache,
    command_line,
    rotated,
    summarize,
    timed_run,
    upstream_tree,
    verdict,
)
from bench.live import live_bed  # noqa: E402

GNU_TIME = "/usr/bin/time"
TARGET_MB = 60.0
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def peak_rss_mb(argv: Sequence[str], env: dict[str, str], scratch: Path) -> float:
    """Run ``argv`` under ``/usr/bin/time -v`` and return its peak RSS in MB (10^6 bytes)."""
    output = scratch / "time.txt"
    timed_run([GNU_TIME, "-v", "-o", str(output), *argv], env=env)
    match = _MAX_RSS.search(output.read_text())
    if match is None:
        raise SystemExit(f"bench: no peak RSS in the output of {GNU_TIME} -v:\n{output.read_text()}")
    return int(match.group(1)) * 1024 / 1_000_000


def main() -> int:
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"bench: {GNU_TIME} not found; install Debian's time package (apt-get install time)")
    args = arguments("Peak RSS of dhconf --scope user set with restart and verify.", rounds=5)
    report = Report("Memory", command_line())
    samples: dict[str, list[float]] = {}
    with bytecode_cache(), tempfile.TemporaryDirectory(prefix="dhconf-bench-") as scratch_dir, live_bed() as live:
        scratch = Path(scratch_dir)
        tree = upstream_tree(scratch / "upstream")
        commands = {
            "dhconf --scope user set (add TCP: write, restart, verify 2 bindings)": live.dhconf_add(),
            "dhconf --scope user set (remove TCP: write, restart, verify 1 binding)": live.dhconf_remove(),
            "python -c pass": [PYTHON, "-c", "pass"],
            'python -c "import typer"': [PYTHON, "-c", "import typer"],
            "dhconf --version": [DHCONF, "--version"],
            "dhconf --root UPSTREAM --json detect": [DHCONF, "--root", str(tree), "--json", "detect"],
        }
        # The two set runs stay in this order so that each round adds, then removes.
        names = list(commands)
        for index in range(1 + args.rounds):
            order = names[:2] + rotated(names[2:], index)
            for name in order:
                value = peak_rss_mb(commands[name], live.env, scratch)
                if index >= 1:
                    samples.setdefault(name, []).append(value)

    report.add(f"{args.rounds} rounds after 1 warm-up round; peak RSS (`Maximum resident set size`) from "
               f"`{GNU_TIME} -v`, in MB of 10^6 bytes. UPSTREAM is Docker CE's unit and socket with Debian's "
               "/etc/default/docker.")
    report.add()
    rows = []
    for name, values in samples.items():
        summary = summarize(values)
        rows.append([f"`{name}`", f"{summary.median:.1f} MB", f"{summary.low:.1f}–{summary.high:.1f} MB"])
    report.table(["command", "peak RSS, median", "range"], rows)
    set_peaks = [value for name, values in samples.items() if "set" in name.split() for value in values]
    worst = max(set_peaks)
    report.add(f"Target: peak RSS of `dhconf --scope user set` with restart and verify ≤ {TARGET_MB:.0f} MB — "
               f"largest of all set runs {worst:.1f} MB: {verdict(worst <= TARGET_MB)}.")
    report.add()
    report.data["peak_rss_mb"] = samples
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
