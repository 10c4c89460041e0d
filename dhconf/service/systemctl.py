"""systemd through the ``systemctl`` command: the fallback when D-Bus cannot be used.

``systemctl`` reaches the system manager over ``/run/systemd/private`` and a
user manager over ``$XDG_RUNTIME_DIR/systemd/private``, so it works where
dbus-python is missing or the bus is down. ``systemctl restart`` waits for the
job, like the D-Bus manager does. Properties come from ``systemctl show`` as
text and are converted to the same Python types that D-Bus gives for the
properties that dhconf reads (see ``_BOOL_PROPERTIES`` and its neighbours).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence

from dhconf.errors import ServiceError, UnitNotFound
from dhconf.service.base import UnitState
from dhconf.service.output import format_output, mark_output, read_output

log = logging.getLogger(__name__)

_QUERY_TIMEOUT = 30.0  # seconds for show, daemon-reload and reset-failed
_STATE_PROPERTIES = ("ActiveState", "SubState", "Result", "ExecMainStatus")

# Exit codes of systemctl start/stop/restart for D-Bus errors, from
# translate_bus_error_to_exit_status() in systemd's systemctl-util.c (LSB codes).
_EXIT_NO_PERMISSION = 4  # AccessDenied
_EXIT_NOT_INSTALLED = 5  # NoSuchUnit
_EXIT_NOT_CONFIGURED = 6  # LoadFailed
_UNIT_MISSING_EXITS = (_EXIT_NOT_INSTALLED, _EXIT_NOT_CONFIGURED)

# NOTE: properties outside these tables come back as the text that
# `systemctl show` prints; timestamps, for one, are not converted to the
# microseconds that D-Bus gives.
_BOOL_PROPERTIES = frozenset({
    "NeedDaemonReload", "CanStart", "CanStop", "CanReload", "CanIsolate", "Transient",
    "Perpetual", "RemainAfterExit", "ConditionResult", "AssertResult", "Accept",
    "RefuseManualStart", "RefuseManualStop", "StopWhenUnneeded",
})
_INT_PROPERTIES = frozenset({
    "ExecMainStatus", "ExecMainCode", "ExecMainPID", "MainPID", "ControlPID", "NRestarts",
    "StartLimitBurst", "NAccepted", "NConnections", "StatusErrno",
})
_LIST_PROPERTIES = frozenset({
    "DropInPaths", "Names", "Requires", "Wants", "After", "Before", "TriggeredBy", "Triggers",
})


class SystemctlManager:
    """systemd's system manager, or the calling user's manager, through ``systemctl``."""

    def __init__(self, scope: str, *, systemctl: str = "systemctl") -> None:
        self.scope = scope
        self._command = [systemctl, "--user"] if scope == "user" else [systemctl]

    def close(self) -> None:
        """Nothing to release: every call is its own process."""

    def reload(self, *units: str) -> None:
        log.info("Reloading systemd's unit files (%s manager) with systemctl", self.scope)
        self._run_checked(["daemon-reload"], action="reload units", unit=None)
        for unit in units:
            if self.property(unit, "NeedDaemonReload"):
                raise ServiceError(
                    f"systemd still reports changed unit files for {unit!r} after a reload; "
                    "check that its unit file and drop-ins are in systemd's unit search path",
                    unit=unit,
                )

    def reset_failed(self, unit: str) -> None:
        completed = self._run(["reset-failed", unit], timeout=_QUERY_TIMEOUT)
        if completed.returncode == 0:
            log.info("Reset the failed state of %s", unit)
            return
        # systemctl fails for a unit that is not loaded; such a unit has no
        # failed state to reset. A unit still failed afterwards is an error.
        if self.property(unit, "ActiveState") != "failed":
            log.debug("No failed state to reset for %s: %s", unit, completed.stderr.strip())
            return
        raise self._command_error(completed, action="reset the failed state of", unit=unit)

    def restart(self, unit: str, *, timeout: float) -> UnitState:
        mark = mark_output(self.property, unit, user=self.scope == "user")
        log.info("Restarting %s with %s", unit, " ".join(self._command))
        started = time.monotonic()
        try:
            completed = self._run(["restart", unit], timeout=timeout)
        except ServiceError as err:
            source, lines = read_output(mark)
            raise ServiceError(
                f"{err.message}. {format_output(source, lines)}", unit=unit, output=lines,
            ) from err
        if completed.returncode in (*_UNIT_MISSING_EXITS, _EXIT_NO_PERMISSION):
            raise self._command_error(completed, action="restart", unit=unit)

        state = self.state(unit)
        if completed.returncode == 0:
            state = _with_job_result(state, "done")
        if completed.returncode != 0 or not state.is_up(unit):
            source, lines = read_output(mark)
            raise ServiceError(
                f"systemd could not restart {unit!r}: {state.describe()}; "
                f"'{self._display('restart', unit)}' exited with status {completed.returncode}: "
                f"{completed.stderr.strip()}\n{format_output(source, lines)}\n"
                f"Fix the cause above, then look at the unit with '{self._display('status', unit)}'",
                unit=unit, state=state.__dict__.copy(), output=lines,
                exit_status=completed.returncode,
            )
        log.info("Restarted %s in %.2f s", unit, time.monotonic() - started)
        return state

    def stop(self, unit: str, *, timeout: float) -> UnitState:
        log.info("Stopping %s with %s", unit, " ".join(self._command))
        completed = self._run(["stop", unit], timeout=timeout)
        if completed.returncode != 0:
            raise self._command_error(completed, action="stop", unit=unit)
        return self.state(unit)

    def state(self, unit: str) -> UnitState:
        values = self._show(unit, _STATE_PROPERTIES, required=("ActiveState", "SubState"))
        return UnitState(
            active_state=str(values["ActiveState"]),
            sub_state=str(values["SubState"]),
            # Only services have ExecMainStatus, and only some unit types a Result.
            result=str(values.get("Result", "success")),
            exec_main_status=int(values.get("ExecMainStatus", 0)),  # type: ignore[call-overload]
        )

    def property(self, unit: str, name: str) -> object:
        return self._show(unit, (name,))[name]

    def _show(self, unit: str, names: Sequence[str], required: Sequence[str] | None = None) -> dict[str, object]:
        completed = self._run_checked(
            ["show", f"--property={','.join(names)}", unit], action="read the properties of", unit=unit,
        )
        values: dict[str, object] = {}
        for line in completed.stdout.splitlines():
            key, sep, text = line.partition("=")
            if sep and key in names:
                values[key] = convert_property(key, text)
        missing = [name for name in (names if required is None else required) if name not in values]
        if missing:
            raise ServiceError(
                f"systemd has no property {', '.join(missing)} on unit {unit!r}; "
                f"'{self._display('show', unit)}' lists the properties it has",
                unit=unit, property=missing,
            )
        return values

    def _run(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        argv = [*self._command, *args]
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, errors="replace",
                timeout=max(timeout, 0.001), check=False, stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError as err:
            raise ServiceError(
                f"cannot run {argv[0]!r}: not found; install systemd or check PATH",
                command=argv,
            ) from err
        except subprocess.TimeoutExpired as err:
            raise ServiceError(
                f"timed out after {timeout:g} s waiting for '{' '.join(argv)}'; "
                "systemd may still be working on it; allow more time with --timeout",
                command=argv,
            ) from err
        except OSError as err:
            raise ServiceError(f"cannot run '{' '.join(argv)}': {err}", command=argv) from err

    def _run_checked(self, args: list[str], *, action: str, unit: str | None) -> subprocess.CompletedProcess[str]:
        completed = self._run(args, timeout=_QUERY_TIMEOUT)
        if completed.returncode != 0:
            raise self._command_error(completed, action=action, unit=unit)
        return completed

    def _command_error(self, completed: subprocess.CompletedProcess[str], *, action: str,
                       unit: str | None) -> ServiceError:
        command = " ".join(completed.args)
        message = completed.stderr.strip() or completed.stdout.strip() or "no output"
        target = f"{action} {unit!r}" if unit else action
        details = {"command": list(completed.args), "exit_status": completed.returncode, "unit": unit}
        if completed.returncode in _UNIT_MISSING_EXITS:
            return UnitNotFound(
                f"systemd cannot {target}: {message} Check the unit name with "
                f"'{' '.join(self._command)} list-unit-files', or pass the right one with --unit",
                **details)
        if completed.returncode == _EXIT_NO_PERMISSION:
            return ServiceError(f"permission denied to {target}: {message} Run dhconf as root", **details)
        return ServiceError(
            f"cannot {target}: '{command}' exited with status {completed.returncode}: {message}",
            **details)

    def _display(self, verb: str, unit: str) -> str:
        return " ".join([*self._command, verb, unit])


def convert_property(name: str, text: str) -> object:
    """Convert one ``systemctl show`` value to the Python type that D-Bus gives for it."""
    if name in _BOOL_PROPERTIES:
        return text == "yes"
    if name in _INT_PROPERTIES:
        try:
            return int(text)
        except ValueError:
            return text  # an empty value, for one
    if name in _LIST_PROPERTIES:
        return text.split()
    return text


def _with_job_result(state: UnitState, job_result: str) -> UnitState:
    return UnitState(state.active_state, state.sub_state, state.result, state.exec_main_status, job_result)
