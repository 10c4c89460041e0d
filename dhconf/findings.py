"""Findings: what dhconf noticed about a host's configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One observation with a stable code, a severity and a message.

    ``path`` and ``line`` name the file and line it is about, where there is one.
    """

    code: str
    severity: str
    message: str
    path: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None}
