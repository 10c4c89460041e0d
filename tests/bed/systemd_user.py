"""A real systemd user manager with its own D-Bus session bus, isolated from the host.

``systemd_user_bed()`` starts ``/lib/systemd/systemd --user`` inside
``setsid unshare --mount --propagation private``. An empty tmpfs over ``/run``
lets it create ``/run/systemd/system`` and keeps the host's
``/run/containerd``, ``/run/docker`` and docker socket out of reach. Another
over ``/etc/docker`` keeps dockerd from reading the host's daemon.json and from
writing a key.json there. ``XDG_RUNTIME_DIR`` and ``XDG_CONFIG_HOME`` are temp
directories, so the manager socket-activates its own bus at
``$XDG_RUNTIME_DIR/bus`` and reads units from
``$XDG_CONFIG_HOME/systemd/user``. dbus-python and ``systemctl --user`` reach
both from outside the namespace through ``SystemdUserBed.env``.

This never starts systemd as a system manager. Teardown stops the units,
sends SIGTERM to the systemd it started (by pid), waits, and sends SIGKILL to
whatever is left of the processes it started.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bed.dockerd import DOCKERD, isolation_args

log = logging.getLogger(__name__)

SYSTEMD = "/lib/systemd/systemd"
SYSTEMCTL = shutil.which("systemctl") or "/usr/bin/systemctl"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
SETSID = shutil.which("setsid") or "/usr/bin/setsid"
# dbus-user-session ships the user unit that socket-activates the session bus.
DBUS_USER_SOCKET = ("/usr/lib/systemd/user/dbus.socket", "/lib/systemd/user/dbus.socket")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

START_TIMEOUT = 20.0
DOCKER_READY_TIMEOUT = 60.0  # dockerd's first start under a loaded CI machine, with room to spare
STOP_TIMEOUT = 30.0
_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with the terminating NUL

# Runs as root inside the new mount namespace: moves itself into the bed's
# cgroups (the cgroup.procs files before "--"), then becomes systemd.
_INNER_SCRIPT = (
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 1; shift; done; shift'
    " && mount -t tmpfs -o mode=0755 tmpfs /run"
    " && mkdir -p /run/systemd/system"
    " && { [ ! -d /etc/docker ] || mount -t tmpfs -o mode=0755 tmpfs /etc/docker; }"
    ' && exec "$@"'
)


def skip_or_fail(reason: str) -> None:
    """Skip the test for a missing part of the bed; under CI=true, fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"test bed incomplete under CI: {reason}")
    pytest.skip(reason)


def missing_parts(*, dockerd: bool) -> list[str]:
    """Return what this machine lacks to run the bed, one reason per missing part."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("the bed needs root: unshare --mount and mount need CAP_SYS_ADMIN")
    if not os.access(SYSTEMD, os.X_OK):
        reasons.append(f"{SYSTEMD} not found: install Debian's systemd package")
    if not os.access(SYSTEMCTL, os.X_OK):
        reasons.append("systemctl not found: install Debian's systemd package")
    if not any(os.path.exists(path) for path in DBUS_USER_SOCKET):
        reasons.append("no user dbus.socket unit: install Debian's dbus-user-session package")
    for tool in (UNSHARE, SETSID):
        if not os.access(tool, os.X_OK):
            reasons.append(f"{tool} not found: install Debian's util-linux package")
    if dockerd and not os.access(DOCKERD, os.X_OK):
        reasons.append(f"dockerd not found at {DOCKERD}: install Debian's docker.io package")
    if dockerd and not os.path.isdir("/etc/docker"):
        # dockerd 20.10 writes its engine key to /etc/docker/key.json and has
        # no flag to move it; the bed can hide only a directory that exists.
        reasons.append("/etc/docker is missing: reinstall Debian's docker.io package, which ships it")
    return reasons


@dataclass
class DockerUnit:
    """A dockerd user unit written by ``SystemdUserBed.write_docker_unit``."""

    name: str
    path: Path
    state_dir: Path
    socket_path: Path
    output_path: Path  # dockerd's stdout and stderr (StandardOutput=append:)
    hosts: list[str]

    def ping(self) -> bool:
        """Return whether dockerd returns OK to ``GET /_ping`` on its unix socket."""
        return ping_unix_socket(self.socket_path)

    def read_output(self) -> str:
        try:
            return self.output_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_until_serving(self, timeout: float = DOCKER_READY_TIMEOUT) -> None:
        """Wait until dockerd returns OK to ``GET /_ping``; raise with its output when it does not."""
        deadline = time.monotonic() + timeout
        while not self.ping():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"dockerd did not respond on {self.socket_path} within {timeout:g} s; its output:\n"
                    f"{self.read_output()[-2000:]}"
                )
            time.sleep(0.1)


@dataclass
class SystemdUserBed:
    """A running systemd user manager and the directories it uses."""

    root: Path
    process: subprocess.Popen[bytes] | None = None
    started_seconds: float = 0.0  # from launch until the bus and the private socket exist
    units: list[str] = field(default_factory=list)
    cgroups: list[Path] = field(default_factory=list)

    @property
    def runtime_dir(self) -> Path:
        return self.root / "runtime"

    @property
    def config_home(self) -> Path:
        return self.root / "config"

    @property
    def unit_dir(self) -> Path:
        return self.config_home / "systemd" / "user"

    @property
    def manager_log(self) -> Path:
        """systemd's own stdout and stderr: it logs there without a journal."""
        return self.root / "systemd.log"

    @property
    def bus_address(self) -> str:
        return f"unix:path={self.runtime_dir / 'bus'}"

    @property
    def env(self) -> dict[str, str]:
        """The variables that point dbus-python, ``systemctl --user`` and dhconf at this bed.

        ``XDG_STATE_HOME`` puts dhconf's lock and journal for ``--scope user`` under the bed.
        """
        return {
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(self.config_home),
            "XDG_STATE_HOME": str(self.root / "state"),
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
        }

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the manager and wait for its bus and private socket."""
        self.runtime_dir.mkdir(mode=0o700)
        self.unit_dir.mkdir(parents=True)
        for name in ("home", "data", "state", "cache"):
            (self.root / name).mkdir()
        # A clean environment: the manager passes its own to every unit.
        env = {
            "PATH": PATH,
            "LANG": "C.UTF-8",
            "HOME": str(self.root / "home"),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(self.config_home),
            "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_STATE_HOME": str(self.root / "state"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
        }
        # A user manager puts its units at cgroup paths below its own cgroup
        # (app.slice/docker.service, session.slice/dbus.service). Started in
        # the root cgroup, every such manager on the machine would share those
        # paths and kill each other's processes when stopping a unit.
        self.cgroups = [mount / self.root.name for mount in _cgroup_mounts()]
        for cgroup in self.cgroups:
            cgroup.mkdir()
        argv = [SETSID, UNSHARE, "--mount", "--propagation", "private", "sh", "-c", _INNER_SCRIPT,
                "sh", *[str(cgroup / "cgroup.procs") for cgroup in self.cgroups], "--",
                SYSTEMD, "--user"]
        launched = time.monotonic()
        with open(self.manager_log, "wb") as log_file:
            self.process = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            )
        log.info("Started systemd --user as pid %d under %s", self.process.pid, self.root)

        sockets = [self.runtime_dir / "bus", self.runtime_dir / "systemd" / "private"]
        deadline = launched + timeout
        while not all(path.exists() for path in sockets):
            if self.process.poll() is not None:
                skip_or_fail(
                    f"systemd --user in a private mount namespace exited with status "
                    f"{self.process.returncode}: {self._manager_log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"systemd --user made no {' and '.join(map(str, sockets))} within {timeout:g} s; "
                    f"its log ends with: {self._manager_log_tail()}"
                )
            time.sleep(0.02)
        self.started_seconds = time.monotonic() - launched
        log.info("systemd --user pid %d ready after %.2f s", self.process.pid, self.started_seconds)

    def systemctl(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``systemctl --user`` against this manager."""
        completed = subprocess.run(
            [SYSTEMCTL, "--user", *args], env={**os.environ, **self.env}, capture_output=True,
            text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
        )
        if check and completed.returncode != 0:
            raise RuntimeError(
                f"systemctl --user {' '.join(args)} exited with status {completed.returncode}: "
                f"{completed.stderr.strip()}"
            )
        return completed

    def write_unit(self, name: str, text: str) -> Path:
        """Write a unit file; teardown stops the unit. Call ``daemon-reload`` afterwards."""
        path = self.unit_dir / name
        path.write_text(text)
        if name not in self.units:
            self.units.append(name)
        return path

    def write_docker_unit(
        self,
        *,
        name: str = "docker.service",
        hosts: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        start_limit_burst: int = 3,
    ) -> DockerUnit:
        """Write a ``Type=notify`` unit that runs Debian's dockerd, isolated, on a unix socket.

        ``hosts`` are more ``-H`` values; TCP must be on a loopback address. The
        packaged unit's start limit (3 starts in 60 s) is kept. dockerd 20.10
        without ``--containerd`` starts its own containerd under its exec root,
        because the bed hides any system containerd socket under ``/run``.
        """
        stem = name.removesuffix(".service")
        state_dir = self.root / stem
        state_dir.mkdir(exist_ok=True)
        socket_path = state_dir / "docker.sock"
        output_path = state_dir / "dockerd.log"
        all_hosts = [f"unix://{socket_path}", *hosts]
        for host in all_hosts:
            self._check_host(host)

        argv = [DOCKERD, *isolation_args(state_dir), *[f"-H={host}" for host in all_hosts], *extra_args]
        text = (
            "[Unit]\n"
            "Description=dockerd for dhconf tests\n"
            f"StartLimitBurst={start_limit_burst}\n"
            "StartLimitIntervalSec=60\n"
            "\n"
            "[Service]\n"
            "Type=notify\n"
            f"ExecStart={' '.join(exec_quote(arg) for arg in argv)}\n"
            f"Environment=PATH={PATH}\n"
            # A user manager without journald sends the journal-bound output
            # of its services to /dev/null, so keep dockerd's in a file.
            f"StandardOutput=append:{output_path}\n"
            "StandardError=inherit\n"
            "TimeoutStartSec=60\n"
            "TimeoutStopSec=30\n"
        )
        path = self.write_unit(name, text)
        return DockerUnit(name=name, path=path, state_dir=state_dir, socket_path=socket_path,
                          output_path=output_path, hosts=all_hosts)

    def start_docker(self, **unit_options: object) -> DockerUnit:
        """Write the docker unit with its own empty daemon.json, start it and wait until it serves.

        ``--config-file`` makes dockerd and dhconf read the same daemon.json, under the bed.
        ``unit_options`` go to ``write_docker_unit``; ``extra_args`` there is added to.
        """
        config = self.root / "docker" / "daemon.json"
        config.parent.mkdir(exist_ok=True)
        config.write_text("{}\n")
        extra_args = [f"--config-file={config}", *unit_options.pop("extra_args", ())]
        unit = self.write_docker_unit(extra_args=extra_args, **unit_options)
        self.systemctl("daemon-reload")
        self.systemctl("start", unit.name)
        unit.wait_until_serving()
        return unit

    def close(self) -> None:
        """Stop the units, then the manager by its pid, then what is left of its processes."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            for unit in reversed(self.units):
                completed = self.systemctl("stop", unit, check=False, timeout=STOP_TIMEOUT)
                if completed.returncode != 0:
                    log.warning("Cannot stop %s in the bed: %s", unit, completed.stderr.strip())
        started = _descendants(process.pid)
        if process.poll() is None:
            # The pid is systemd itself: setsid, unshare and sh each exec the next.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("systemd --user pid %d ignored SIGTERM; killing it", process.pid)
                process.kill()
                process.wait()
        _kill_leftovers(started)
        log.info("Stopped systemd --user pid %d (status %s)", process.pid, process.returncode)
        self.process = None
        for cgroup in self.cgroups:
            _remove_cgroup_tree(cgroup)

    def _check_host(self, host: str) -> None:
        scheme, _, rest = host.partition("://")
        if scheme == "unix":
            if not Path(rest).is_relative_to(self.root):
                raise ValueError(f"bed socket {host!r} must lie under {self.root}")
            if len(os.fsencode(rest)) > _MAX_SOCKET_PATH:
                raise ValueError(f"bed socket path {rest!r} is longer than {_MAX_SOCKET_PATH} bytes")
            return
        if scheme == "tcp":
            address = rest.rpartition(":")[0].strip("[]")
            try:
                if ipaddress.ip_address(address).is_loopback:
                    return
            except ValueError:
                pass
        raise ValueError(f"bed host {host!r}: only unix sockets under the bed and TCP on loopback")

    def _manager_log_tail(self, lines: int = 20) -> str:
        try:
            text = self.manager_log.read_text(errors="replace")
        except OSError as err:
            return f"(cannot read {self.manager_log}: {err})"
        return "\n".join(text.splitlines()[-lines:]) or "(nothing)"


@contextlib.contextmanager
def systemd_user_bed(*, dockerd: bool = True) -> Iterator[SystemdUserBed]:
    """Run a systemd user manager for the ``with`` block; skip (or fail under CI) without one.

    The temp directory is directly under /tmp, because unix socket paths under
    it (the bus, dockerd's and containerd's sockets) must stay within 107 bytes.
    """
    problems = missing_parts(dockerd=dockerd)
    if problems:
        skip_or_fail("; ".join(problems))
    root = Path(tempfile.mkdtemp(prefix="dhconf-bed-", dir="/tmp"))
    bed = SystemdUserBed(root=root)
    try:
        bed.start()
        yield bed
    finally:
        bed.close()
        shutil.rmtree(root, ignore_errors=True)


def exec_quote(arg: str) -> str:
    """Quote one argument for a systemd ``ExecStart=`` line.

    ``%`` starts a specifier and ``$`` a variable, so both are doubled;
    whitespace, quotes and backslashes need double quotes with C escapes.
    """
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not re.search(r"[\s\"'\\;]", arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def ping_unix_socket(path: Path, timeout: float = 2.0) -> bool:
    """Return whether a Docker daemon returns OK to ``GET /_ping`` on the unix socket ``path``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        connection = http.client.HTTPConnection("localhost", timeout=timeout)
        connection.sock = sock
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        return response.status == 200 and response.read() == b"OK"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        sock.close()


def _cgroup_mounts() -> list[Path]:
    """Return the mount points of the cgroup hierarchies, except cpuset.

    A new cpuset cgroup in v1 has no CPUs until configured, so no process can
    join it, and systemd 252 manages no cpuset there anyway.
    """
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        fstype, _, options = (tail.split() + ["", "", ""])[:3]
        if fstype == "cgroup2" or (fstype == "cgroup" and "cpuset" not in options.split(",")):
            mounts.append(Path(fields.split()[4]))
    return mounts


def _remove_cgroup_tree(cgroup: Path, timeout: float = 5.0) -> None:
    """Remove ``cgroup`` and the groups below it, once their processes are gone."""
    deadline = time.monotonic() + timeout
    while cgroup.exists():
        for directory, _, _ in os.walk(cgroup, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        if not cgroup.exists():
            return
        if time.monotonic() > deadline:
            log.warning("Cannot remove the bed's cgroup %s: processes are still in it", cgroup)
            return
        time.sleep(0.1)


def _process_start_time(pid: int) -> int | None:
    """Return the start time of ``pid`` in clock ticks (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces; fields follow the last ")".
    return int(stat.rpartition(")")[2].split()[19])


def _descendants(root_pid: int) -> list[tuple[int, int]]:
    """Return (pid, start time) of ``root_pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found = []
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        start = _process_start_time(pid)
        if start is not None:
            found.append((pid, start))
        pending.extend(children.get(pid, []))
    return found


def _kill_leftovers(processes: list[tuple[int, int]], grace: float = 5.0) -> None:
    """SIGKILL the processes in ``processes`` that outlive ``grace`` seconds.

    A pid counts only while its start time matches, so a reused pid is never hit.
    """
    deadline = time.monotonic() + grace
    while True:
        alive = [(pid, start) for pid, start in processes if _process_start_time(pid) == start
                 and not _is_zombie(pid)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid, _ in alive:
        log.warning("Killing pid %d, left over from the bed's systemd --user", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
