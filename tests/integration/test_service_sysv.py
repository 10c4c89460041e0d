"""The SysV manager driving Debian's real /etc/init.d/docker, isolated from the host.

The init script and /etc/default/docker run inside ``unshare --mount
--propagation private``, with bind mounts over the files that the script
reads and an empty tmpfs over /run (its pid files, and the /run/systemd/system
that would make ``service`` and lsb's init-functions hand over to systemctl).
A driver inside the namespace runs ``SysvManager`` on commands from stdin, so
start, restart and stop all happen in the same namespace. The test pings
dockerd from outside through its socket in a temp directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.bed.dockerd import DOCKERD, isolation_args
from tests.bed.systemd_user import UNSHARE, ping_unix_socket, skip_or_fail

if TYPE_CHECKING:
    from tests.integration.conftest import HeldPort

pytestmark = pytest.mark.integration

INIT_SCRIPT = Path("/etc/init.d/docker")
DEFAULTS = Path("/etc/default/docker")
TINI = shutil.which("tini") or "/usr/bin/tini"
READY_TIMEOUT = 30.0

# The stock script stops at these lines on machines whose hard limits are
# lower and where root lacks CAP_SYS_RESOURCE (so `ulimit` cannot raise them),
# and its cgroupfs_mount would create directories in the host's shared
# /sys/fs/cgroup. The adjusted copy raises the soft limits only as far as the
# hard limits go and skips the cgroup mounts; everything else is the package's.
SCRIPT_ADJUSTMENTS = [
    ("\t\tcgroupfs_mount\n", "\t\t: cgroupfs_mount skipped by the dhconf test bed\n"),
    ("\t\tulimit -n 1048576\n", '\t\tulimit -n "$(ulimit -H -n)"\n'),
    ("\t\t\tulimit -p unlimited\n", '\t\t\tulimit -p "$(ulimit -H -p)"\n'),
]

# Runs inside the namespace; "$1" is the bed directory, the rest is the driver.
NAMESPACE_SETUP = (
    'mount -t tmpfs -o mode=0755 tmpfs /run'
    ' && mount -t tmpfs -o mode=0755 tmpfs /etc/docker'
    ' && mount --bind "$1/default-docker" /etc/default/docker'
    ' && mount --bind "$1/init.d-docker" /etc/init.d/docker'
    ' && shift && exec "$@"'
)

# Reads one command per line (restart, stop, state) and prints one JSON reply.
DRIVER = """
import json, sys
from dhconf.errors import DhconfError
from dhconf.service.sysv import SysvManager

manager = SysvManager(log_file=sys.argv[1])
actions = {
    "restart": lambda: manager.restart("docker.service", timeout=60),
    "stop": lambda: manager.stop("docker.service", timeout=60),
    "state": lambda: manager.state("docker.service"),
}
for line in sys.stdin:
    try:
        reply = {"ok": True, "state": actions[line.strip()]().__dict__}
    except DhconfError as err:
        reply = {"ok": False, "error": type(err).__name__, "message": err.message}
    print(json.dumps(reply), flush=True)
"""


@dataclass
class SysvBed:
    """Paths of one isolated run of the init script, and the driver inside its namespace."""

    root: Path
    driver: subprocess.Popen[str]

    @property
    def socket_path(self) -> Path:
        return self.root / "docker.sock"

    @property
    def log_path(self) -> Path:
        return self.root / "docker.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "state" / "dockerd.pid"

    def send(self, command: str) -> dict[str, Any]:
        assert self.driver.stdin is not None and self.driver.stdout is not None
        self.driver.stdin.write(command + "\n")
        self.driver.stdin.flush()
        line = self.driver.stdout.readline()
        if not line:
            raise RuntimeError(f"the SysV driver exited with status {self.driver.wait()}")
        return json.loads(line)

    def dockerd_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def wait_until_serving(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if ping_unix_socket(self.socket_path):
                return True
            time.sleep(0.1)
        return False


def adjusted_init_script(text: str) -> str:
    """Return the stock init script with ``SCRIPT_ADJUSTMENTS`` applied, each exactly once."""
    for old, new in SCRIPT_ADJUSTMENTS:
        if text.count(old) != 1:
            skip_or_fail(f"{INIT_SCRIPT} has changed: expected the line {old.strip()!r} once")
        text = text.replace(old, new)
    return text


@contextlib.contextmanager
def sysv_bed(extra_opts: list[str]) -> Iterator[SysvBed]:
    """Run the driver in a private mount namespace; on exit stop dockerd and the driver by pid."""
    for path in (INIT_SCRIPT, DEFAULTS, Path(DOCKERD), Path(TINI), Path("/etc/docker")):
        if not path.exists():
            skip_or_fail(f"{path} not found: install Debian's docker.io package (it brings tini)")
    if os.geteuid() != 0:
        skip_or_fail("the SysV bed needs root: unshare --mount and mount need CAP_SYS_ADMIN")

    root = Path(tempfile.mkdtemp(prefix="dhconf-sysv-", dir="/tmp"))
    state_dir = root / "state"
    state_dir.mkdir()
    opts = [*isolation_args(state_dir), f"-H=unix://{root / 'docker.sock'}", *extra_opts]
    defaults = DEFAULTS.read_text() + (
        "\n# Added by the dhconf test bed.\n"
        f"DOCKER_PIDFILE={state_dir / 'dockerd.pid'}\n"
        f"DOCKER_LOGFILE={root / 'docker.log'}\n"
        f'DOCKER_OPTS="{" ".join(opts)}"\n'
    )
    (root / "default-docker").write_text(defaults)
    script = root / "init.d-docker"
    script.write_text(adjusted_init_script(INIT_SCRIPT.read_text()))
    script.chmod(0o755)

    # tini reaps the daemons that start-stop-daemon detaches, which this
    # machine's pid 1 may leave as zombies that `status` takes for running.
    argv = [UNSHARE, "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SETUP, "sh",
            str(root), TINI, "-s", "--", sys.executable, "-c", DRIVER, str(root / "docker.log")]
    driver = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2], start_new_session=True,
    )
    bed = SysvBed(root=root, driver=driver)
    try:
        yield bed
    finally:
        _stop(bed)
        shutil.rmtree(root, ignore_errors=True)


def _stop(bed: SysvBed) -> None:
    if bed.driver.poll() is None:
        with contextlib.suppress(RuntimeError, OSError, ValueError):
            bed.send("stop")
        bed.driver.send_signal(signal.SIGTERM)
        try:
            bed.driver.wait(10)
        except subprocess.TimeoutExpired:
            bed.driver.kill()
            bed.driver.wait()
    pid = bed.dockerd_pid()
    if pid is None:
        return
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if str(bed.root).encode() in cmdline:  # still our dockerd, not a reused pid
            os.kill(pid, signal.SIGKILL)


def test_init_script_start_restart_stop() -> None:
    with sysv_bed([]) as bed:
        started = bed.send("restart")
        assert started["ok"], started
        assert started["state"]["active_state"] == "active"
        assert bed.wait_until_serving(), bed.log_path.read_text()[-2000:]
        first_pid = bed.dockerd_pid()

        restarted = bed.send("restart")
        assert restarted["ok"], restarted
        assert bed.wait_until_serving(), bed.log_path.read_text()[-2000:]
        assert bed.dockerd_pid() != first_pid

        stopped = bed.send("stop")
        assert stopped["ok"], stopped
        assert stopped["state"]["active_state"] == "inactive"
        assert not ping_unix_socket(bed.socket_path)


def test_init_script_failure_quotes_dockerd(held_port: HeldPort) -> None:
    with sysv_bed([f"-H={held_port.host}"]) as bed:
        reply = bed.send("restart")

        assert reply["ok"] is False
        assert reply["error"] == "ServiceError"
        assert "address already in use" in reply["message"]
        assert bed.send("state")["state"]["active_state"] != "active"
