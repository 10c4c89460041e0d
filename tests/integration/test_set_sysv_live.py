"""``dhconf set`` with ``--root /`` on Debian's real SysV init script, isolated from the host.

dhconf runs inside ``unshare --mount --propagation private`` where the
host's files are covered:

- ``/etc/default`` by a bind-mounted copy whose ``docker`` file points dockerd
  at a temp directory. dhconf writes atomically (a temp file renamed over the
  target), and a rename onto a bind-mounted single file fails with EBUSY, so
  the whole directory is covered.
- ``/etc/init.d/docker`` by the adjusted copy that test_service_sysv uses
  (the stock one stops at ``ulimit -n 1048576`` on these machines).
- ``/run`` and ``/etc/docker`` by empty tmpfs mounts, so neither the script's
  pid files, ``/run/docker`` nor dockerd's ``key.json`` reach the host, and
  ``service`` finds no ``/run/systemd/system`` and runs the script itself.
- ``/var/lib/dhconf`` (dhconf's lock and journal) by a tmpfs. The host may
  lack that directory, and creating the mount point must not create it on
  the host, so ``/var/lib`` first gets an overlay whose upper layer is in the
  namespace's ``/run``.

A driver inside the namespace (under tini, which reaps what the script
detaches) starts dockerd through the script, then runs dhconf as a process
of its own. dhconf is run once for the module; each test checks one part of
what happened, and of what did not happen on the host.
"""

from __future__ import annotations

import contextlib
import http.client
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

from tests.bed.dockerd import DOCKERD, free_port, isolation_args
from tests.bed.systemd_user import UNSHARE, ping_unix_socket, skip_or_fail
from tests.integration.test_service_sysv import DEFAULTS, INIT_SCRIPT, TINI, adjusted_init_script
from tests.integration.test_set_live import get_info

if TYPE_CHECKING:
    from tests.integration.conftest import HeldPort

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0
DRIVER_TIMEOUT = 180.0
HOST_DEFAULT_DIR = Path("/etc/default")
HOST_STATE_DIR = Path("/var/lib/dhconf")

# The namespace runs this first. "$1" is the bed directory, and the other arguments run the driver.
NAMESPACE_SETUP = r"""
set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /etc/docker
mkdir -p /run/dhconf-bed/upper /run/dhconf-bed/work
mount -t overlay overlay \
    -o lowerdir=/var/lib,upperdir=/run/dhconf-bed/upper,workdir=/run/dhconf-bed/work /var/lib
mkdir -p /var/lib/dhconf
mount -t tmpfs -o mode=0700 tmpfs /var/lib/dhconf
mount --bind "$1/etc-default" /etc/default
mount --bind "$1/init.d-docker" /etc/init.d/docker
shift
exec "$@"
"""

# Reads one JSON command per line and prints one JSON reply per line.
DRIVER = r"""
import json, os, subprocess, sys
from dhconf.errors import DhconfError
from dhconf.service.sysv import SysvManager

manager = SysvManager(log_file=sys.argv[1])


def mount_type(target):
    with open("/proc/self/mountinfo") as mountinfo:
        types = [line.split(" - ")[1].split()[0] for line in mountinfo if line.split()[4] == target]
    return types[-1] if types else None


def run(command):
    if command["do"] == "start":
        return {"state": manager.restart("docker.service", timeout=60).__dict__}
    if command["do"] == "stop":
        return {"state": manager.stop("docker.service", timeout=60).__dict__}
    if command["do"] == "dhconf":
        completed = subprocess.run([sys.executable, "-m", "dhconf", *command["args"]],
                                   capture_output=True, text=True, stdin=subprocess.DEVNULL)
        return {"returncode": completed.returncode, "stdout": completed.stdout,
                "stderr": completed.stderr}
    if command["do"] == "inspect":
        with open("/etc/default/docker") as defaults:
            text = defaults.read()
        files = [os.path.join(top, name) for top, _, names in os.walk(command["path"]) for name in names]
        return {"default_docker": text, "mount_type": mount_type(command["path"]), "files": files}
    raise ValueError(command)


for line in sys.stdin:
    try:
        reply = {"ok": True, **run(json.loads(line))}
    except DhconfError as err:
        reply = {"ok": False, "error": type(err).__name__, "message": err.message}
    print(json.dumps(reply), flush=True)
"""


@dataclass
class HostSnapshot:
    """What the test must find unchanged on the host."""

    default_docker: bytes
    etc_default: list[str]
    etc_docker: list[str]
    run_docker: list[tuple[str, int]]  # (path, mtime in ns) of every entry
    state_dir_exists: bool

    @classmethod
    def take(cls) -> HostSnapshot:
        return cls(
            default_docker=(HOST_DEFAULT_DIR / "docker").read_bytes(),
            etc_default=sorted(os.listdir(HOST_DEFAULT_DIR)),
            etc_docker=sorted(os.listdir("/etc/docker")),
            run_docker=_tree("/run/docker"),
            state_dir_exists=HOST_STATE_DIR.exists(),
        )


def _tree(top: str) -> list[tuple[str, int]]:
    entries = []
    for directory, names, files in os.walk(top):
        for name in [*names, *files]:
            path = os.path.join(directory, name)
            with contextlib.suppress(FileNotFoundError):
                entries.append((path, os.lstat(path).st_mtime_ns))
    return sorted(entries)


@dataclass
class SysvRun:
    """One ``dhconf set`` through the init script, and what the test saw around it."""

    root: Path
    tcp_port: int
    before: HostSnapshot
    pid_before: int | None
    pid_after: int | None
    returncode: int
    document: dict[str, Any]
    stderr: str
    info_over_tcp: dict[str, Any] | None
    namespace_default_docker: str
    journal_mount_type: str | None  # of /var/lib/dhconf inside the namespace
    journal_files: list[str]  # under /var/lib/dhconf inside the namespace

    @property
    def socket_path(self) -> Path:
        return self.root / "docker.sock"

    @property
    def unix_host(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def tcp_host(self) -> str:
        return f"tcp://127.0.0.1:{self.tcp_port}"

    def describe(self) -> str:
        return f"exit {self.returncode}\nstdout: {json.dumps(self.document, indent=1)}\nstderr: {self.stderr}"


class Driver:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def send(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the SysV driver exited with status {self.process.wait()}")
        return json.loads(line)


def make_bed_files(root: Path) -> None:
    """Write the copy of /etc/default with the bed's docker file, and the adjusted init script."""
    state_dir = root / "state"
    state_dir.mkdir()
    opts = [*isolation_args(state_dir), f"-H=unix://{root / 'docker.sock'}"]
    defaults = DEFAULTS.read_text() + (
        "\n# Added by the dhconf test bed.\n"
        f"DOCKER_PIDFILE={state_dir / 'dockerd.pid'}\n"
        f"DOCKER_LOGFILE={root / 'docker.log'}\n"
        f'DOCKER_OPTS="{" ".join(opts)}"\n'
    )
    shutil.copytree(HOST_DEFAULT_DIR, root / "etc-default", symlinks=True)
    (root / "etc-default" / "docker").write_text(defaults)
    script = root / "init.d-docker"
    script.write_text(adjusted_init_script(INIT_SCRIPT.read_text()))
    script.chmod(0o755)


def dockerd_pid(root: Path) -> int | None:
    try:
        return int((root / "state" / "dockerd.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def wait_until_serving(socket_path: Path) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if ping_unix_socket(socket_path):
            return True
        time.sleep(0.1)
    return False


def get_info_over_tcp(port: int) -> dict[str, Any] | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/info")
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    return json.loads(body) if response.status == 200 else None


@contextlib.contextmanager
def namespace_driver(root: Path) -> Iterator[Driver]:
    argv = [UNSHARE, "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SETUP, "sh",
            str(root), TINI, "-s", "--", sys.executable, "-c", DRIVER, str(root / "docker.log")]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               cwd=REPO, start_new_session=True)
    driver = Driver(process)
    try:
        yield driver
    finally:
        _stop(driver, root)


def _stop(driver: Driver, root: Path) -> None:
    if driver.process.poll() is None:
        with contextlib.suppress(RuntimeError, OSError, ValueError):
            driver.send(do="stop")
        driver.process.send_signal(signal.SIGTERM)
        try:
            driver.process.wait(10)
        except subprocess.TimeoutExpired:
            driver.process.kill()
            driver.process.wait()
    pid = dockerd_pid(root)
    if pid is None:
        return
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if str(root).encode() in cmdline:  # still our dockerd, not a reused pid
            os.kill(pid, signal.SIGKILL)


def require_parts() -> None:
    for path in (INIT_SCRIPT, DEFAULTS, Path(DOCKERD), Path(TINI), Path("/etc/docker")):
        if not path.exists():
            skip_or_fail(f"{path} not found: install Debian's docker.io package (it brings tini)")
    if os.geteuid() != 0:
        skip_or_fail("the SysV bed needs root: unshare --mount and mount need CAP_SYS_ADMIN")


@dataclass
class SysvBed:
    """A namespace where dockerd runs through the init script, and the driver inside it."""

    root: Path
    driver: Driver

    @property
    def socket_path(self) -> Path:
        return self.root / "docker.sock"

    def read_log(self) -> str:
        path = self.root / "docker.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def dhconf_set(self, *hosts: str) -> tuple[int, dict[str, Any], str]:
        """Run ``dhconf --root / --json set -H ...`` in the namespace; return exit code, document, stderr."""
        args = ["--root", "/", "--json", "set"]
        for host in hosts:
            args += ["-H", host]
        reply = self.driver.send(do="dhconf", args=args)
        try:
            document = json.loads(reply["stdout"])
        except json.JSONDecodeError:
            document = {"unparsed stdout": reply["stdout"]}
        return reply["returncode"], document, reply["stderr"]


@contextlib.contextmanager
def sysv_bed() -> Iterator[SysvBed]:
    """Start dockerd through the init script in a fresh namespace; stop it and remove the files after."""
    require_parts()
    root = Path(tempfile.mkdtemp(prefix="dhconf-sysv-set-", dir="/tmp"))
    try:
        make_bed_files(root)
        with namespace_driver(root) as driver:
            bed = SysvBed(root=root, driver=driver)
            started = driver.send(do="start")
            if not (started["ok"] and wait_until_serving(bed.socket_path)):
                raise RuntimeError(f"dockerd did not start through the init script: {started}\n{bed.read_log()}")
            yield bed
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def sysv_run() -> Iterator[SysvRun]:
    before = HostSnapshot.take()
    with sysv_bed() as bed:
        pid_before = dockerd_pid(bed.root)
        tcp_port = free_port()
        returncode, document, stderr = bed.dhconf_set(f"unix://{bed.socket_path}", f"tcp://127.0.0.1:{tcp_port}")
        inspected = bed.driver.send(do="inspect", path=str(HOST_STATE_DIR))
        yield SysvRun(
            root=bed.root, tcp_port=tcp_port, before=before,
            pid_before=pid_before, pid_after=dockerd_pid(bed.root),
            returncode=returncode, document=document, stderr=stderr,
            info_over_tcp=get_info_over_tcp(tcp_port),
            namespace_default_docker=inspected["default_docker"],
            journal_mount_type=inspected["mount_type"], journal_files=inspected["files"],
        )


def test_set_succeeds(sysv_run: SysvRun) -> None:
    assert sysv_run.returncode == 0, sysv_run.describe()
    assert sysv_run.document["changed"] is True


def test_set_writes_docker_opts(sysv_run: SysvRun) -> None:
    assert [entry["path"] for entry in sysv_run.document["files"]] == ["/etc/default/docker"]
    assert sysv_run.tcp_host in sysv_run.namespace_default_docker


def test_set_restarts_init_script(sysv_run: SysvRun) -> None:
    restart = sysv_run.document["restart"]
    assert restart["manager"] == "SysvManager", sysv_run.describe()
    assert restart["active_state"] == "active", restart
    assert sysv_run.pid_after is not None
    assert sysv_run.pid_after != sysv_run.pid_before


def test_set_verifies_every_binding(sysv_run: SysvRun) -> None:
    checks = {check["host"]: check for check in sysv_run.document["verify"]}
    assert set(checks) == {sysv_run.unix_host, sysv_run.tcp_host}, sysv_run.describe()
    for check in checks.values():
        assert check["ok"] is True, check
        assert check["server_version"], check


def test_daemon_responds_outside_namespace(sysv_run: SysvRun) -> None:
    assert sysv_run.info_over_tcp is not None
    assert get_info(sysv_run.socket_path) is not None


def test_journal_on_namespace_tmpfs(sysv_run: SysvRun) -> None:
    journal = sysv_run.document["journal"]
    assert Path(journal).is_relative_to(HOST_STATE_DIR), sysv_run.describe()
    assert sysv_run.journal_mount_type == "tmpfs"
    assert any(Path(path).is_relative_to(journal) for path in sysv_run.journal_files), sysv_run.journal_files


def test_host_default_docker_is_unchanged(sysv_run: SysvRun) -> None:
    assert (HOST_DEFAULT_DIR / "docker").read_bytes() == sysv_run.before.default_docker


def test_host_etc_default_has_no_new_files(sysv_run: SysvRun) -> None:
    assert sorted(os.listdir(HOST_DEFAULT_DIR)) == sysv_run.before.etc_default


def test_host_etc_docker_is_unchanged(sysv_run: SysvRun) -> None:
    assert sorted(os.listdir("/etc/docker")) == sysv_run.before.etc_docker


def test_host_run_docker_is_unchanged(sysv_run: SysvRun) -> None:
    assert _tree("/run/docker") == sysv_run.before.run_docker


def test_host_state_dir_is_unchanged(sysv_run: SysvRun) -> None:
    assert HOST_STATE_DIR.exists() is sysv_run.before.state_dir_exists


def test_set_held_port_rolls_back(held_port: HeldPort) -> None:
    with sysv_bed() as bed:
        original = bed.driver.send(do="inspect", path=str(HOST_STATE_DIR))["default_docker"]

        returncode, document, stderr = bed.dhconf_set(f"unix://{bed.socket_path}", held_port.host)

        assert returncode == 3, f"exit {returncode}\n{json.dumps(document, indent=1)}\n{stderr}"
        error = document["error"]
        assert error["outcome"]["rolled_back"] is True
        assert "address already in use" in error["message"], error["message"]
        assert bed.driver.send(do="inspect", path=str(HOST_STATE_DIR))["default_docker"] == original
        assert get_info(bed.socket_path) is not None, bed.read_log()
