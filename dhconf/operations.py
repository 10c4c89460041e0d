"""The write commands as one transaction: plan, apply, restart, verify, and roll back on failure.

``change_hosts`` serves ``set``, ``add`` and ``remove``; ``rollback_last``
serves ``rollback``. Both are library calls: the CLI and the Ansible module
call them with keyword arguments and get an ``Outcome`` back, or an error
from ``dhconf.errors``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dhconf.errors import InvalidInput, ProbeFailed, RollbackFailed, RolledBack, ServiceError
from dhconf.findings import INFO, WARNING, Finding
from dhconf.hosts import Host, parse_host
from dhconf.request import Request, check_tls_files, check_via
from dhconf.rootfs import RootFS

log = logging.getLogger(__name__)

Notify = Callable[[str], None]


@dataclass
class Outcome:
    changed: bool
    dry_run: bool
    before: list[str]
    after: list[str] | None  # None for a rollback dry run: known once the backups are back
    files: list[dict[str, Any]] = field(default_factory=list)
    restart: dict[str, Any] | None = None
    verify: list[dict[str, Any]] = field(default_factory=list)
    rolled_back: bool = False
    findings: list[Finding] = field(default_factory=list)
    via: str | None = None
    journal: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "dry_run": self.dry_run,
            "via": self.via,
            "hosts": {"before": self.before, "after": self.after},
            "files": self.files,
            "restart": self.restart,
            "verify": self.verify,
            "rolled_back": self.rolled_back,
            "journal": self.journal,
            "findings": [finding.to_json() for finding in self.findings],
        }


def _notify_default(message: str) -> None:
    log.info("%s", message)


def state_directory(scope: str, environ: Mapping[str, str] | None = None) -> str:
    """Return where the lock and the journal live: per user for --scope user, else /var/lib/dhconf."""
    from dhconf.journal import STATE_DIR

    if scope != "user":
        return STATE_DIR
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or os.path.join(environ.get("HOME", "/root"), ".local", "state")
    return os.path.join(base, "dhconf")


def target_hosts(mode: str, current: Sequence[Host], requested: Sequence[Host]) -> list[Host]:
    """Return the host set that ``set``, ``add`` or ``remove`` requests."""
    if mode == "set":
        return list(dict.fromkeys(requested))
    if mode == "add":
        return list(dict.fromkeys([*current, *requested]))
    if mode == "remove":
        missing = [str(host) for host in requested if host not in current]
        if missing:
            log.warning("not among the current hosts, nothing to remove: %s", ", ".join(missing))
        remaining = [host for host in current if host not in requested]
        if not remaining:
            raise InvalidInput(
                "removing every host would leave dockerd on its default socket only; "
                "use 'dhconf set -H unix:///var/run/docker.sock' to say so explicitly"
            )
        return remaining
    raise ValueError(f"unknown mode {mode!r}")


def change_hosts(
    *,
    mode: str,
    hosts: Sequence[str],
    root: str = "/",
    scope: str = "system",
    unit: str | None = None,
    via: str = "auto",
    tlsverify: bool = False,
    tlscacert: str | None = None,
    tlscert: str | None = None,
    tlskey: str | None = None,
    allow_insecure_tcp: bool = False,
    dry_run: bool = False,
    restart: bool = True,
    verify: bool = True,
    timeout: float | None = None,
    probe_tls: Any = None,
    environ: Mapping[str, str] | None = None,
    notify: Notify = _notify_default,
    on_plan: Callable[[list[dict[str, Any]]], None] | None = None,
) -> Outcome:
    """Make dockerd listen on the requested hosts; see the module docstring.

    ``on_plan`` receives the planned file changes before anything is
    written, so a caller can show them first. Each entry is an entry of
    ``Outcome.files`` plus ``before`` and ``after``: the whole old and new
    text of the file, or None where there is no file. Callers that render
    their own diff, such as Ansible's diff mode, use those.
    """
    from dhconf.detect import detect
    from dhconf.plan import plan_change

    fs = RootFS(root)
    requested = [parse_host(text) for text in hosts]
    if not requested:
        raise InvalidInput("no host given: add at least one -H HOST")
    check_via(via)
    tls = check_tls_files(fs, tlsverify, tlscacert, tlscert, tlskey)

    state_dir = state_directory(scope, environ)
    with _maybe_lock(fs, dry_run, state_dir):
        findings = [] if dry_run else _recover_unfinished(fs, notify, state_dir)
        detection = detect(fs, scope=scope, unit=unit, environ=environ)
        target = target_hosts(mode, detection.hosts, requested)
        plan = plan_change(fs, detection, Request(target, via, tls, allow_insecure_tcp))
        outcome = Outcome(
            changed=plan.changed,
            dry_run=dry_run,
            before=[str(host) for host in plan.before],
            after=[str(host) for host in plan.after],
            files=[planned.to_json() for planned in plan.files],
            findings=findings + plan.findings,
            via=plan.via,
        )
        if on_plan is not None:
            on_plan([{**planned.to_json(), "before": planned.before, "after": planned.after} for planned in plan.files])
        if dry_run or not plan.changed:
            return outcome
        journal = _write(fs, plan, mode, state_dir)
        outcome.journal = journal.directory
        if not _can_restart(fs, restart, outcome):
            _commit(fs, journal)
            return outcome
        _restart_and_verify(fs, detection, plan, journal, outcome, verify, timeout, probe_tls, notify)
        _commit(fs, journal)
        return outcome


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _maybe_lock(fs: RootFS, dry_run: bool, state_dir: str) -> Any:
    if dry_run:
        return _NoLock()
    from dhconf.apply import Lock

    return Lock(fs, state_dir=state_dir)


def _recover_unfinished(fs: RootFS, notify: Notify, state_dir: str) -> list[Finding]:
    from dhconf.apply import recover

    report = recover(fs, state_dir=state_dir)
    if report is None:
        return []
    message = (
        f"an earlier dhconf run stopped before finishing transaction {report.journal_id}; "
        f"restored its files to their previous content: {', '.join(report.paths) or 'none'}"
    )
    notify(message)
    return [Finding("transaction_recovered", WARNING, message)]


def _write(fs: RootFS, plan: Any, mode: str, state_dir: str) -> Any:
    from dhconf.apply import FileChange, apply_changes

    changes = [
        FileChange(
            path=planned.path,
            action=planned.action,
            content=planned.after.encode() if planned.after is not None else None,
        )
        for planned in plan.files
    ]
    return apply_changes(fs, changes, command=f"dhconf {mode}", state_dir=state_dir)


def _commit(fs: RootFS, journal: Any) -> None:
    from dhconf.apply import commit

    commit(fs, journal)


def _can_restart(fs: RootFS, restart: bool, outcome: Outcome) -> bool:
    if restart and fs.is_live:
        return True
    reason = "--no-restart was given" if not restart else f"--root {fs.root} is not this machine's root"
    outcome.findings.append(
        Finding(
            "not_restarted",
            INFO,
            f"the files are written but the daemon was not restarted ({reason}); "
            "it keeps its old bindings until it restarts.",
        )
    )
    return False


def _restart_and_verify(
    fs: RootFS,
    detection: Any,
    plan: Any,
    journal: Any,
    outcome: Outcome,
    verify: bool,
    timeout: float | None,
    probe_tls: Any,
    notify: Notify,
) -> None:
    from dhconf import restart as restarter

    if detection.daemon_json is not None and not detection.daemon_json.live_restore:
        notify(f"restarting {detection.service}: running containers stop (live-restore is off)")
    if verify:
        # Import the probe's HTTP and TLS modules now, not between the daemon's
        # readiness and the first probe, where they cost 30-40 ms (measured in bench/live_apply.py).
        from dhconf import probe_http  # noqa: F401
    try:
        outcome.restart = restarter.restart_daemon(detection, plan.unit_changed, timeout)
        if verify:
            outcome.verify = restarter.verify_hosts(detection, plan.after, timeout, probe_tls, notify)
    except (ServiceError, ProbeFailed) as err:
        _roll_back(fs, detection, plan, journal, outcome, err, timeout, probe_tls, notify)


def _roll_back(
    fs: RootFS,
    detection: Any,
    plan: Any,
    journal: Any,
    outcome: Outcome,
    error: Exception,
    timeout: float | None,
    probe_tls: Any,
    notify: Notify,
) -> None:
    from dhconf import restart as restarter
    from dhconf.apply import restore

    notify("the change failed; restoring the previous files and restarting the daemon")
    try:
        restore(fs, journal)
        restarter.restart_daemon(detection, plan.unit_changed, timeout)
        checks = restarter.verify_hosts(detection, plan.before, timeout, probe_tls, notify) if plan.before else []
    except Exception as second:  # noqa: BLE001 - any failure here is reported with the backups' place
        raise RollbackFailed(
            f"{error}; then the rollback failed too: {second}. The previous files are backed up in "
            f"{journal.directory}; restore them by hand and restart the daemon",
            journal=journal.directory,
            outcome=outcome.to_json(),
        ) from second
    outcome.rolled_back = True
    outcome.verify = checks
    raise RolledBack(
        f"the change was rolled back: the previous files are restored and the daemon responds on "
        f"its old bindings again. What failed: {error}",
        outcome=outcome.to_json(),
    ) from error


def rollback_last(
    *,
    root: str = "/",
    scope: str = "system",
    unit: str | None = None,
    dry_run: bool = False,
    restart: bool = True,
    verify: bool = True,
    timeout: float | None = None,
    probe_tls: Any = None,
    environ: Mapping[str, str] | None = None,
    notify: Notify = _notify_default,
) -> Outcome:
    """Restore the files of the last transaction, then restart and verify.

    ``probe_tls`` gives the client's TLS files to verify the restored
    bindings, as for ``change_hosts``, because a daemon with ``--tlsverify``
    rejects a probe without a client certificate.
    """
    from dhconf import restart as restarter
    from dhconf.apply import last_journal, restore
    from dhconf.detect import detect

    fs = RootFS(root)
    state_dir = state_directory(scope, environ)
    with _maybe_lock(fs, dry_run, state_dir):
        journal = last_journal(fs, state_dir=state_dir)
        if journal is None:
            raise InvalidInput(f"no dhconf transaction to roll back in {state_dir} under --root {root}")
        before = detect(fs, scope=scope, unit=unit, environ=environ)
        outcome = Outcome(
            changed=True,
            dry_run=dry_run,
            before=[str(host) for host in before.hosts],
            after=None,
            files=[{"path": entry.path, "action": "restore"} for entry in journal.files],
            journal=journal.directory,
        )
        if dry_run:
            return outcome
        restore(fs, journal)
        after = detect(fs, scope=scope, unit=unit, environ=environ)
        outcome.after = [str(host) for host in after.hosts]
        if _can_restart(fs, restart, outcome):
            # Units and drop-ins live under a systemd directory; they need a daemon-reload.
            unit_changed = any("/systemd/" in entry.path for entry in journal.files)
            outcome.restart = restarter.restart_daemon(after, unit_changed, timeout)
            if verify:
                outcome.verify = restarter.verify_hosts(after, after.hosts, timeout, probe_tls, notify)
        return outcome
