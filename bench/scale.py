"""Scale of input: ``detect`` on units with many drop-ins and on long environment files.

Trees are a unit that loads /etc/default/docker and expands $DOCKER_OPTS
(with Ubuntu's docker.socket), plus:

- N drop-ins (0, 25, 50, 100, 200) in /etc/systemd/system/docker.service.d,
  each with an Environment= and a Limit line, every tenth resetting
  ExecStart= and setting a new one that still expands $DOCKER_OPTS;
- an /etc/default/docker of L lines (Debian's file, then 1k, 2.5k, 5k, 10k
  lines of assignments, comments and blank lines, DOCKER_OPTS last);
- both at their largest: 200 drop-ins and 10,000 lines.

Each tree is timed two ways, every tree once per round in rotating order:
the ``detect`` library call in this process (the parsing cost alone), and
``dhconf --root TREE --json detect`` as a process (what a user waits for).
Growth is judged on the library time above the empty tree: the slope of
log(time) against log(size) from the smallest to the largest size, where 1
is linear.

Run from the repository root: ``.venv/bin/python bench/scale.py``
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    DHCONF,
    Report,
    arguments,
    bytecode_cache,
    command_line,
    corpus_text,
    debian_style_tree,
    DEBIAN_DEFAULT,
    rotated,
    summarize,
    timed_run,
    verdict,
)

DROPIN_SIZES = (0, 25, 50, 100, 200)
LINE_SIZES = (0, 1000, 2500, 5000, 10000)
LIBRARY_ROUNDS_PER_CLI_ROUND = 6
# A slow tree stops being sampled once it has MIN_SAMPLES and its samples of one kind took SAMPLE_BUDGET seconds.
MIN_SAMPLES = 3
SAMPLE_BUDGET = 3.0
TARGET_SLOPE = 1.2  # a log-log slope above this is growth faster than linear, beyond timing noise
EXPECTED_HOSTS = ["fd://", "tcp://127.0.0.1:2375"]
DROPIN_DIR = "/etc/systemd/system/docker.service.d"


def dropin_text(index: int) -> str:
    text = (f"# bench drop-in {index}\n[Service]\n"
            f'Environment="BENCH_DROPIN_{index}=value {index}"\nLimitNOFILE={1048576 - index}\n')
    if index % 10 == 9:
        text += f"ExecStart=\nExecStart=/usr/bin/dockerd -H fd:// $DOCKER_OPTS --label bench={index}\n"
    return text


def default_file(lines: int) -> str:
    """Return Debian's /etc/default/docker padded to ``lines`` lines, with DOCKER_OPTS last."""
    body = corpus_text(DEBIAN_DEFAULT).splitlines()
    index = 0
    while len(body) < lines - 1:
        if index % 10 == 0:
            body.append("")
        elif index % 5 == 0:
            body.append(f"# setting {index} of the bench: quoted, with spaces")
        else:
            body.append(f'BENCH_SETTING_{index}="value {index} with spaces"')
        index += 1
    body.append('DOCKER_OPTS="-H tcp://127.0.0.1:2375"')
    return "\n".join(body) + "\n"


def build(root: Path, dropins: int, lines: int) -> Path:
    tree = debian_style_tree(root, default_file(lines))
    for index in range(dropins):
        path = tree / DROPIN_DIR.lstrip("/") / f"{index:03d}-bench.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dropin_text(index))
    return tree


def trees(scratch: Path) -> dict[tuple[int, int], Path]:
    sizes = {(n, 0) for n in DROPIN_SIZES} | {(0, n) for n in LINE_SIZES} | {(DROPIN_SIZES[-1], LINE_SIZES[-1])}
    return {size: build(scratch / f"d{size[0]}-l{size[1]}", *size) for size in sorted(sizes)}


def library_detect_seconds(tree: Path) -> float:
    from dhconf.detect import detect
    from dhconf.rootfs import RootFS

    started = time.perf_counter()
    detection = detect(RootFS(str(tree)))
    elapsed = time.perf_counter() - started
    hosts = [str(host) for host in detection.hosts]
    if hosts != EXPECTED_HOSTS:
        raise SystemExit(f"bench: detect on {tree} found {hosts}, expected {EXPECTED_HOSTS}: the input was not read")
    return elapsed


def _needs_sample(samples: list[float], planned: int) -> bool:
    """Return whether to take another sample: up to ``planned``, past the time budget up to MIN_SAMPLES."""
    if len(samples) >= planned:
        return False
    return len(samples) < MIN_SAMPLES or sum(samples) < SAMPLE_BUDGET


def slope(sizes: list[int], extra: list[float]) -> float | None:
    """Return the log-log slope of the time above the empty tree, from the smallest to the largest size."""
    if extra[0] <= 0 or extra[-1] <= 0:
        return None
    return math.log(extra[-1] / extra[0]) / math.log(sizes[-1] / sizes[0])


def main() -> int:
    args = arguments("detect on many drop-ins and long environment files.", rounds=5)
    report = Report("Scale of input", command_line())
    library: dict[tuple[int, int], list[float]] = {}
    cli: dict[tuple[int, int], list[float]] = {}
    with bytecode_cache(), tempfile.TemporaryDirectory(prefix="dhconf-bench-") as scratch:
        built = trees(Path(scratch))
        sizes = list(built)
        smallest = built[sizes[0]]
        library_detect_seconds(smallest)  # warm-up: the lazy imports inside detect
        timed_run([DHCONF, "--root", str(smallest), "--json", "detect"])
        for index in range(args.rounds):
            for _ in range(LIBRARY_ROUNDS_PER_CLI_ROUND):
                for size in rotated(sizes, index):
                    if _needs_sample(library.get(size, []), args.rounds * LIBRARY_ROUNDS_PER_CLI_ROUND):
                        library.setdefault(size, []).append(library_detect_seconds(built[size]))
            for size in rotated(sizes, index):
                if _needs_sample(cli.get(size, []), args.rounds):
                    argv = [DHCONF, "--root", str(built[size]), "--json", "detect"]
                    cli.setdefault(size, []).append(timed_run(argv, timeout=600).wall)

    report.add(f"{args.rounds} rounds; each round times every tree {LIBRARY_ROUNDS_PER_CLI_ROUND} times through the "
               "library and once through the CLI, the order of trees rotating. A tree whose samples of one kind "
               f"already took {SAMPLE_BUDGET:g} s gets no more than {MIN_SAMPLES}, to keep the run bounded. Base unit: a unit that loads "
               "/etc/default/docker and expands $DOCKER_OPTS; every detect must find "
               f"{', '.join(EXPECTED_HOSTS)}.")
    report.add()
    verdicts = []
    for label, axis, points in (("drop-ins", 0, DROPIN_SIZES), ("lines in /etc/default/docker", 1, LINE_SIZES)):
        keys = [(n, 0) if axis == 0 else (0, n) for n in points]
        medians = [summarize(library[key]).median for key in keys]
        rows = []
        for n, key, median in zip(points, keys, medians):
            lib, whole = summarize(library[key]), summarize(cli[key])
            extra = median - medians[0]
            per_item = f"{extra / n * 1e6:.1f} µs" if n else "—"
            rows.append([str(n), f"{lib.median * 1000:.2f} ms ({lib.q1 * 1000:.2f}–{lib.q3 * 1000:.2f})",
                         per_item, f"{whole.median * 1000:.0f} ms ({whole.q1 * 1000:.0f}–{whole.q3 * 1000:.0f})",
                         f"{lib.n} / {whole.n}"])
        report.add(f"Curve over {label}:")
        report.add()
        report.table([label, "library detect, median (IQR)", "per item above 0", "CLI detect, median (IQR)",
                      "samples (library / CLI)"], rows)
        growth = slope(list(points[1:]), [m - medians[0] for m in medians[1:]])
        ok = growth is not None and growth <= TARGET_SLOPE
        verdicts.append(ok)
        slope_text = "not measurable (no time above the empty tree)" if growth is None else f"{growth:.2f}"
        report.add(f"log-log slope {points[1]}→{points[-1]} {label}: {slope_text} (1 = linear, target ≤ {TARGET_SLOPE}): "
                   f"{verdict(ok)}.")
        report.add()
        report.data[label] = {str(n): {"library_s": library[key], "cli_s": cli[key]} for n, key in zip(points, keys)}
    largest = (DROPIN_SIZES[-1], LINE_SIZES[-1])
    lib, whole = summarize(library[largest]), summarize(cli[largest])
    report.add(f"Both at their largest ({largest[0]} drop-ins and {largest[1]:,} lines): library "
               f"{lib.median * 1000:.1f} ms, CLI {whole.median * 1000:.0f} ms.")
    report.add()
    report.add(f"Target: growth at most linear — {verdict(all(verdicts))}.")
    report.data["largest"] = {"library_s": library[largest], "cli_s": cli[largest]}
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
