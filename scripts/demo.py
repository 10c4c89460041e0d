"""Run dhconf's main job against a real dockerd restarted by a real systemd, in a sandbox.

The sandbox is the test bed: a systemd user manager in a private mount
namespace with its own D-Bus, and Debian's dockerd as a Type=notify user
unit on a unix socket under a temp directory. dhconf then runs as a
sysadmin would run it, with ``--scope user``: ``detect``, ``set --diff``
adding a TCP binding on 127.0.0.1, and ``show --probe``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.bed.dockerd import free_port  # noqa: E402
from tests.bed.systemd_user import systemd_user_bed  # noqa: E402


def dhconf(env: dict[str, str], *args: str) -> int:
    command = [sys.executable, "-m", "dhconf", "--scope", "user", *args]
    print(f"\n$ dhconf --scope user {' '.join(args)}", flush=True)
    return subprocess.run(command, env=env, check=False).returncode


def main() -> int:
    with systemd_user_bed() as bed:
        unit = bed.start_docker()
        print(f"sandbox: systemd --user under {bed.root}, dockerd on unix://{unit.socket_path}")

        env = {**os.environ, **bed.env}
        port = free_port("127.0.0.1")
        steps = [
            ("detect",),
            ("set", "--diff", "-H", f"unix://{unit.socket_path}", "-H", f"tcp://127.0.0.1:{port}"),
            ("show", "--probe"),
        ]
        for step in steps:
            code = dhconf(env, *step)
            if code != 0:
                print(f"demo: 'dhconf {step[0]}' exited with status {code}", file=sys.stderr)
                print(unit.read_output()[-2000:], file=sys.stderr)
                return code
        print("\ndemo: done; stopping the sandbox")
    return 0


if __name__ == "__main__":
    sys.exit(main())
