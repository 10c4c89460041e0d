"""Human-readable output: short tables for a terminal."""

from __future__ import annotations

from typing import Any


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in rows
    ]


def format_detection(detection: Any) -> str:
    platform = detection.platform
    lines = [
        f"platform:  {' '.join(filter(None, (platform.id, platform.version_id)))} (family {platform.family.name})",
        f"init:      {platform.init}",
        f"install:   {platform.install}",
    ]
    if detection.unit is not None:
        unit = detection.unit
        dropins = f" + {len(unit.dropin_paths)} drop-in(s)" if unit.dropin_paths else ""
        lines.append(f"unit:      {unit.fragment_path}{dropins}")
        for path in unit.dropin_paths:
            lines.append(f"           {path}")
    if detection.command:
        lines.append(f"command:   {' '.join(detection.argv)}")
    if detection.daemon_json is not None and detection.daemon_json.exists:
        lines.append(f"config:    {detection.daemon_json.path}")
    lines.append("hosts:     " + (", ".join(str(host) for host in detection.hosts) or "(none)"))

    if detection.sources:
        rows = [["KIND", "PATH", "VARIABLE", "EFFECTIVE", "HOSTS"]]
        for source in detection.sources:
            path = source.path or "-"
            if source.line:
                path = f"{path}:{source.line}"
            rows.append(
                [
                    source.kind,
                    path,
                    source.variable or "-",
                    "yes" if source.effective else "no",
                    " ".join(source.hosts) or "-",
                ]
            )
        lines += ["", "sources:"] + _table(rows)

    if detection.findings:
        lines += ["", "findings:"]
        for finding in detection.findings:
            place = ""
            if finding.path and finding.path not in finding.message:
                place = f"{finding.path}:{finding.line}: " if finding.line else f"{finding.path}: "
            lines.append(f"  {finding.severity}: [{finding.code}] {place}{finding.message}")
    return "\n".join(lines)


def format_probes(results: list[dict[str, Any]]) -> str:
    rows = [["HOST", "OK", "LATENCY", "VERSION", "NAME", "ERROR"]]
    for result in results:
        latency = result.get("latency_ms")
        rows.append(
            [
                result["host"],
                "yes" if result["ok"] else "no",
                f"{latency:.1f} ms" if latency is not None else "-",
                result.get("server_version") or "-",
                result.get("name") or "-",
                result.get("error") or "",
            ]
        )
    return "\n".join(_table(rows, indent=""))


_PAST = {"create": "created", "update": "updated", "delete": "deleted", "restore": "restored"}


def format_outcome(document: dict[str, Any]) -> str:
    lines = []
    if not document["changed"]:
        lines.append("nothing to change: the daemon is already configured with these hosts")
    for planned in document["files"]:
        action = planned["action"]
        verb = f"would {action}" if document["dry_run"] else _PAST.get(action, action)
        reason = f": {planned['reason']}" if planned.get("reason") else ""
        lines.append(f"{verb} {planned['path']}{reason}")
    hosts = document["hosts"]
    lines.append(f"hosts before: {' '.join(hosts['before']) or '(none)'}")
    if hosts["after"] is None:
        lines.append("hosts after:  (known once the files are restored)")
    else:
        lines.append(f"hosts after:  {' '.join(hosts['after']) or '(none)'}")
    restart = document.get("restart")
    if restart:
        lines.append(f"restarted {restart['unit']}: {restart['active_state']}/{restart['sub_state']}")
    if document.get("verify"):
        lines.append(format_probes(document["verify"]))
    if document.get("rolled_back"):
        lines.append("rolled back: the previous files are restored")
    for finding in document.get("findings", []):
        lines.append(f"{finding['severity']}: [{finding['code']}] {finding['message']}")
    return "\n".join(lines)
