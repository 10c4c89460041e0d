"""SysV init scripts (``service NAME restart``), and the base shared with OpenRC.

An init script has no unit files to reload and no failed state to reset, so
``reload`` and ``reset_failed`` do nothing. Its ``status`` exit code (the LSB
codes) is mapped onto ``UnitState``. A script returns from ``start`` as soon
as the daemon is forked. So ``restart`` then watches ``status`` for a short
while, to catch a daemon that exits at once. Whether the daemon serves is for
the probe to find out.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from typing import IO

from dhconf.errors import NotSupported, ServiceError, UnitNotFound
from dhconf.service.base import UnitState
from dhconf.service.output import OutputMark, format_output, read_output

log = logging.getLogger(__name__)

# How long `restart` watches a freshly started daemon. dockerd 20.10 and later
# sleeps 1 s before it binds a TCP host without --tlsverify, and 15 s more for a
# non-loopback address, so a bind error can come that late.
# NOTE: 3 s covers the loopback case only; for a non-loopback TCP host without
# --tlsverify pass settle=20 or leave the failure to the probe.
SETTLE_SECONDS = 3.0
_POLL_INTERVAL = 0.1
_STATUS_TIMEOUT = 30.0

# LSB init script status codes (LSB Core, "Init Script Actions").
_LSB_STATES: Mapping[int, tuple[str, str, str]] = {
    0: ("active", "running", "success"),
    1: ("failed", "dead", "exit-code"),  # dead, but the pid file exists
    2: ("failed", "dead", "exit-code"),  # dead, but the lock file exists
    3: ("inactive", "dead", "success"),  # not running
}
_UNKNOWN_STATE = ("unknown", "unknown", "unknown")


class InitScriptManager:
    """The base of the SysV and OpenRC managers: run a verb with a deadline, read ``status``.

    ``log_file`` is where the script sends the daemon's output (Debian's
    ``DOCKER_LOGFILE``, ``/var/log/docker.log`` by default); a failed start
    quotes its new lines.
    """

    name = "init script"
    status_states: Mapping[int, tuple[str, str, str]] = _LSB_STATES

    def __init__(self, *, log_file: str | None = None, settle: float = SETTLE_SECONDS) -> None:
        self.log_file = log_file
        self.settle = settle

    def command(self, unit: str, verb: str) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release: every call is its own process."""

    def reload(self, *units: str) -> None:
        log.debug("No unit files to reload for %s", self.name)

    def reset_failed(self, unit: str) -> None:
        log.debug("No failed state to reset for %s %s", self.name, unit)

    def restart(self, unit: str, *, timeout: float) -> UnitState:
        deadline = time.monotonic() + timeout
        mark = self._mark()
        # Debian's docker init script (docker.io 20.10) exits 1 from "restart"
        # when the daemon is not running: under `set -e`, reading its missing
        # pid file ends the script. So a stopped daemon gets "start".
        verb = "restart" if self.state(unit).active_state == "active" else "start"
        log.info("Running %s", " ".join(self.command(unit, verb)))
        status, output = self._run(unit, verb, deadline, mark)
        if status != 0:
            raise self._failure(unit, verb, f"exited with status {status}", output, mark)

        state = self._watch_running(unit, deadline)
        if not state.is_up(unit):
            status_command = " ".join(self.command(unit, "status"))
            raise self._failure(
                unit, verb,
                f"succeeded, but then '{status_command}' exited with status {state.exec_main_status} "
                f"(the daemon is {state.active_state})",
                output, mark,
            )
        return state

    def stop(self, unit: str, *, timeout: float) -> UnitState:
        deadline = time.monotonic() + timeout
        mark = self._mark()
        log.info("Running %s", " ".join(self.command(unit, "stop")))
        status, output = self._run(unit, "stop", deadline, mark)
        if status != 0:
            raise self._failure(unit, "stop", f"exited with status {status}", output, mark)
        return self.state(unit)

    def state(self, unit: str) -> UnitState:
        status, _ = self._run(unit, "status", time.monotonic() + _STATUS_TIMEOUT, None)
        active, sub, result = self.status_states.get(status, _UNKNOWN_STATE)
        return UnitState(active_state=active, sub_state=sub, result=result, exec_main_status=status)

    def property(self, unit: str, name: str) -> object:
        raise NotSupported(
            f"cannot read property {name!r} of {unit!r}: a {self.name} has no unit properties",
            unit=unit, property=name,
        )

    def _watch_running(self, unit: str, deadline: float) -> UnitState:
        """Return the state once the daemon has kept running for ``settle`` seconds."""
        settled = min(time.monotonic() + self.settle, deadline)
        while True:
            state = self.state(unit)
            if not state.is_up(unit) or time.monotonic() >= settled:
                return state
            time.sleep(_POLL_INTERVAL)

    def _mark(self) -> OutputMark | None:
        if self.log_file is None:
            return None
        try:
            offset = os.stat(self.log_file).st_size
        except OSError:
            offset = 0
        return OutputMark(unit="", user=False, kind="file", path=self.log_file, offset=offset,
                          since=time.time())

    def _run(self, unit: str, verb: str, deadline: float, mark: OutputMark | None) -> tuple[int, str]:
        argv = self.command(unit, verb)
        remaining = deadline - time.monotonic()
        # Output goes to a file, not a pipe: a daemon forked by the script may
        # keep a pipe open long after the script has exited.
        with tempfile.TemporaryFile() as output_file:
            try:
                completed = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=output_file, stderr=subprocess.STDOUT,
                    timeout=max(remaining, 0.001), check=False,
                )
            except FileNotFoundError as err:
                raise UnitNotFound(
                    f"cannot run {argv[0]!r}: not found; check that {unit!r} is installed "
                    f"as a {self.name}", unit=unit, command=argv,
                ) from err
            except subprocess.TimeoutExpired as err:
                raise self._failure(
                    unit, verb, f"did not finish within {max(remaining, 0):.0f} s",
                    _read_all(output_file), mark,
                ) from err
            except OSError as err:
                raise ServiceError(f"cannot run '{' '.join(argv)}': {err}", unit=unit, command=argv) from err
            return completed.returncode, _read_all(output_file)

    def _failure(self, unit: str, verb: str, outcome: str, output: str, mark: OutputMark | None) -> ServiceError:
        command = " ".join(self.command(unit, verb))
        lines: list[str] = []
        daemon_output = "The daemon's log file is not known; look at it for the cause."
        if mark is not None:
            source, lines = read_output(mark)
            daemon_output = format_output(source, lines)
        return ServiceError(
            f"'{command}' {outcome}. The script printed: {output.strip() or '(nothing)'}\n{daemon_output}\n"
            "Fix the cause above and run the command again",
            unit=unit, command=self.command(unit, verb), output=lines,
        )


class SysvManager(InitScriptManager):
    """A SysV init script, through ``service`` or ``/etc/init.d/NAME`` when ``service`` is missing."""

    name = "SysV init script"

    def command(self, unit: str, verb: str) -> list[str]:
        script = script_name(unit)
        service = shutil.which("service")
        if service is not None:
            return [service, script, verb]
        return [f"/etc/init.d/{script}", verb]


def script_name(unit: str) -> str:
    """Return the init script's name for a unit name: ``docker.service`` is ``docker``."""
    return unit.removesuffix(".service")


def _read_all(output_file: IO[bytes]) -> str:
    output_file.seek(0)
    return output_file.read().decode("utf-8", errors="replace")
