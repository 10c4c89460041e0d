"""daemon.json: the ``hosts`` key and the TLS and live-restore settings beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dhconf.findings import ERROR, WARNING, Finding
from dhconf.rootfs import RootFS

DEFAULT_PATH = "/etc/docker/daemon.json"
SNAP_PATH = "/var/snap/docker/current/config/daemon.json"

_BOM = "\ufeff"


@dataclass
class DaemonJson:
    """What dhconf reads from one daemon.json.

    ``hosts`` is None when the key is absent, and a list (possibly empty) when
    present: dockerd treats even ``"hosts": []`` as set, so it conflicts with
    any ``-H`` flag.
    """

    path: str
    exists: bool
    data: dict[str, Any] | None = None
    hosts: list[str] | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.data is not None or not self.exists

    def flag(self, key: str) -> bool | None:
        value = (self.data or {}).get(key)
        return value if isinstance(value, bool) else None

    @property
    def live_restore(self) -> bool:
        return self.flag("live-restore") is True

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "exists": self.exists, "hosts": self.hosts}


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    duplicates = []
    for key, value in pairs:
        if key in result:
            duplicates.append(key)
        result[key] = value
    if duplicates:
        result.setdefault("\0duplicates", []).extend(duplicates)
    return result


def parse_daemon_json(text: str, path: str) -> DaemonJson:
    """Parse daemon.json text; problems become findings, never exceptions."""
    result = DaemonJson(path=path, exists=True)
    # dockerd strips a UTF-8 byte order mark before decoding (daemon/config).
    text = text.removeprefix(_BOM)
    if not text.strip():
        result.findings.append(
            Finding(
                "daemon_json_invalid",
                ERROR,
                f"{path} is empty; dockerd refuses to start with an empty configuration file. "
                "Write {} into it or remove it.",
                path=path,
            )
        )
        return result
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as err:
        result.findings.append(
            Finding(
                "daemon_json_invalid",
                ERROR,
                f"{path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
                "dockerd refuses to start until it is fixed.",
                path=path,
                line=err.lineno,
            )
        )
        return result
    if not isinstance(data, dict):
        result.findings.append(
            Finding(
                "daemon_json_invalid",
                ERROR,
                f"{path} must hold a JSON object, not {type(data).__name__}; dockerd refuses to start.",
                path=path,
            )
        )
        return result

    duplicates = data.pop("\0duplicates", [])
    for key in dict.fromkeys(duplicates):
        result.findings.append(
            Finding(
                "daemon_json_duplicate_key",
                WARNING,
                f"{path} sets the key {key!r} more than once; only the last value counts. "
                "Keep one.",
                path=path,
            )
        )
    result.data = data
    _read_hosts(result, data)
    return result


def _read_hosts(result: DaemonJson, data: dict[str, Any]) -> None:
    path = result.path
    if "host" in data:
        result.findings.append(
            Finding(
                "daemon_json_unknown_key",
                ERROR,
                f"{path} has the key 'host', which dockerd does not know: it refuses to start "
                "with 'the following directives don't match any configuration option: host'. "
                "The key is 'hosts', a list.",
                path=path,
            )
        )
    if "hosts" not in data:
        return
    hosts = data["hosts"]
    if not isinstance(hosts, list) or not all(isinstance(item, str) for item in hosts):
        result.findings.append(
            Finding(
                "daemon_json_invalid",
                ERROR,
                f"{path}: 'hosts' must be a list of strings, not {json.dumps(hosts)}; "
                "dockerd refuses to start.",
                path=path,
            )
        )
        return
    result.hosts = list(hosts)


def read_daemon_json(fs: RootFS, path: str) -> DaemonJson:
    text = fs.read_text(path)
    if text is None:
        return DaemonJson(path=path, exists=False)
    return parse_daemon_json(text, path)
