"""The live bed for the bench: systemd --user, D-Bus and dockerd as a Type=notify unit.

``live_bed()`` starts the test bed of ``tests/bed/systemd_user.py`` with
dockerd on a unix socket under the bed and picks a free TCP port on
127.0.0.1. It also writes the shell script that a careful sysadmin would
type to add or remove that TCP binding by hand. The script writes (or
deletes) a drop-in, runs ``systemctl --user daemon-reload`` and
``systemctl --user restart docker``, then polls ``curl --unix-socket ...
/_ping`` every 100 ms.

The unit allows 1000 starts a minute instead of the packaged 3, because the
bare sequence, unlike dhconf, never resets the start limit, and a bench
restarts the daemon dozens of times.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import DHCONF
from tests.bed.dockerd import DOCKERD, free_port, isolation_args
from tests.bed.systemd_user import DockerUnit, SystemdUserBed, exec_quote, systemd_user_bed

START_LIMIT_BURST = 1000

# Typed by hand: each step is one command a sysadmin would run. The drop-in
# is quoted ('EOF') so that systemd's "$$" escapes reach the file unchanged.
BARE_SCRIPT = """\
#!/bin/sh
# What a careful sysadmin types to add or remove a TCP binding by hand.
set -eu
dropin_dir="$XDG_CONFIG_HOME/systemd/user/docker.service.d"
case "$1" in
add)
    mkdir -p "$dropin_dir"
    cat > "$dropin_dir/override.conf" <<'EOF'
[Service]
ExecStart=
ExecStart={exec_start}
EOF
    ;;
remove)
    rm -f "$dropin_dir/override.conf"
    ;;
esac
systemctl --user daemon-reload
systemctl --user restart docker
until curl -sf --unix-socket {socket} http://localhost/_ping >/dev/null; do sleep 0.1; done
"""


@dataclass
class LiveBed:
    bed: SystemdUserBed
    unit: DockerUnit
    env: dict[str, str]  # for dhconf and the bare script: the bed's bus, manager and state directory
    unix_host: str
    tcp_host: str
    bare_script: Path
    dhconf_command: list[str] = field(default_factory=lambda: [DHCONF])  # how to start dhconf

    def dhconf_set(self, hosts: list[str], options: tuple[str, ...] = ()) -> list[str]:
        """Return the argv of ``dhconf --scope user [OPTIONS] set -H HOST...``."""
        return [*self.dhconf_command, "--scope", "user", *options, "set",
                *[word for host in hosts for word in ("-H", host)]]

    def dhconf_add(self, *options: str) -> list[str]:
        """Return the argv of ``set`` with the unix socket and the TCP binding."""
        return self.dhconf_set([self.unix_host, self.tcp_host], options)

    def dhconf_remove(self, *options: str) -> list[str]:
        """Return the argv of ``set`` with the unix socket only."""
        return self.dhconf_set([self.unix_host], options)

    def bare(self, action: str, *, trace: bool = False) -> list[str]:
        """Return the argv of the bare sequence for ``action`` ("add" or "remove").

        With ``trace``, it runs under ``sh -x``, which prints each command before running it.
        """
        return ["sh", *(["-x"] if trace else []), str(self.bare_script), action]

    def active_enter_monotonic(self) -> float:
        """Return when systemd last saw dockerd ready (READY=1), in seconds of CLOCK_MONOTONIC.

        Python's ``time.monotonic()`` reads the same clock on Linux.
        """
        value = self.bed.systemctl("show", "--value", "-p", "ActiveEnterTimestampMonotonic", self.unit.name)
        return int(value.stdout.strip()) / 1_000_000


@contextlib.contextmanager
def live_bed() -> Iterator[LiveBed]:
    """Run the bed with dockerd serving on its unix socket; stop everything afterwards."""
    with systemd_user_bed() as bed:
        unit = bed.start_docker(start_limit_burst=START_LIMIT_BURST)
        extra = [f"--config-file={bed.root / 'docker' / 'daemon.json'}"]

        port = free_port("127.0.0.1")
        unix_host = f"unix://{unit.socket_path}"
        tcp_host = f"tcp://127.0.0.1:{port}"
        argv = [DOCKERD, *isolation_args(unit.state_dir), f"-H={unix_host}", f"-H={tcp_host}", *extra]
        script = bed.root / "bare.sh"
        script.write_text(BARE_SCRIPT.format(
            exec_start=" ".join(exec_quote(arg) for arg in argv), socket=unit.socket_path,
        ))
        env = {**os.environ, **bed.env}
        yield LiveBed(bed=bed, unit=unit, env=env, unix_host=unix_host, tcp_host=tcp_host, bare_script=script)


