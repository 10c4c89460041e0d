"""Arguments and paths for a dockerd that touches nothing of the host's own docker."""

from __future__ import annotations

import shutil
from pathlib import Path

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


def isolation_args(state_dir: Path) -> list[str]:
    """Return the dockerd flags that keep its state under ``state_dir``.

    No bridge and no iptables rules, so the daemon changes nothing in the
    machine's network; its own data root, exec root and pid file, so it never
    meets the host's docker.
    """
    return [
        f"--data-root={state_dir / 'data'}",
        f"--exec-root={state_dir / 'exec'}",
        f"--pidfile={state_dir / 'dockerd.pid'}",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
    ]
