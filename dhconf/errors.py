"""The one error tree of dhconf.

Every error carries a stable ``code`` for scripts and JSON output and the
process exit code that the CLI uses for it. The library raises these; only
the CLI decides how to show them. OS, subprocess, D-Bus and HTTP errors are
translated into this tree where they are caught, with ``raise ... from err``.
"""

from __future__ import annotations

from typing import Any

# The exit codes, one table. The README repeats it.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2  # also what click uses for usage errors
EXIT_ROLLED_BACK = 3
EXIT_ROLLBACK_FAILED = 4
EXIT_CHANGED = 5

EXIT_CODES = {
    EXIT_OK: "success; with --detailed-exitcode: nothing changed or would change",
    EXIT_FAILED: "the operation failed; nothing was changed or the change was completed",
    EXIT_INVALID: "invalid input or usage; nothing was changed",
    EXIT_ROLLED_BACK: "the change failed and was rolled back; the old bindings answer again",
    EXIT_ROLLBACK_FAILED: "the change failed and so did the rollback; see the journal",
    EXIT_CHANGED: "with --detailed-exitcode: changes were made, or would be in a dry run",
}


class DhconfError(Exception):
    """Base of every error that dhconf raises on purpose."""

    code = "failed"
    exit_code = EXIT_FAILED

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidInput(DhconfError):
    """A value given by the user cannot be used."""

    code = "invalid_input"
    exit_code = EXIT_INVALID


class InvalidHost(InvalidInput):
    """A -H/--host value that dockerd or dhconf rejects."""

    code = "invalid_host"


class InsecureTcp(InvalidInput):
    """Plain TCP on a non-loopback address without --allow-insecure-tcp."""

    code = "insecure_tcp"


class NotSupported(InvalidInput):
    """A request this host's layout cannot carry out, with the reason."""

    code = "not_supported"


class SourceError(DhconfError):
    """A configuration file that cannot be read or parsed."""

    code = "source_error"


class UnitSyntaxError(SourceError):
    """A systemd unit setting that systemd cannot parse, such as an unterminated quote.

    ``details["fatal"]`` is true when systemd rejects the whole unit
    (load state "bad-setting") rather than ignoring the one setting.
    """

    code = "unit_syntax"


class UnitNotFound(DhconfError):
    """No unit file for the requested unit name."""

    code = "unit_not_found"


class LockHeld(DhconfError):
    """Another dhconf run holds the lock on this host."""

    code = "lock_held"


class WriteFailed(DhconfError):
    """A file could not be written; the old content is still in place."""

    code = "write_failed"


class ServiceError(DhconfError):
    """The service manager failed to reload or restart the daemon."""

    code = "service_failed"


class ProbeFailed(DhconfError):
    """A binding did not respond to GET /_ping and GET /info in time."""

    code = "probe_failed"


class RolledBack(DhconfError):
    """The change failed and the previous files are back in place."""

    code = "rolled_back"
    exit_code = EXIT_ROLLED_BACK


class RollbackFailed(DhconfError):
    """The change failed and restoring the previous state failed too."""

    code = "rollback_failed"
    exit_code = EXIT_ROLLBACK_FAILED
