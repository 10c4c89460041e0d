"""Apply file changes as one transaction: lock, journal, atomic writes, rollback.

The caller takes the ``Lock``, calls ``recover`` to undo a transaction that a
killed run left behind, then ``apply_changes``. Every old file is copied into
the journal, and the journal is on disk, before the first target is written.
After restarting and verifying the daemon, the caller calls ``commit``, or
``restore`` to put the old files back. ``dhconf rollback`` restores
``last_journal``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from dhconf.atomic import (
    open_for_update,
    read_file,
    remove_empty_directory,
    remove_file,
    remove_temp_files,
    remove_tree,
    write_atomic,
)
from dhconf.errors import DhconfError, InvalidInput, LockHeld, RollbackFailed, WriteFailed
from dhconf.journal import (
    COMMITTED,
    KEEP_JOURNALS,
    ROLLED_BACK,
    STATE_DIR,
    UNFINISHED_STATES,
    WRITTEN,
    Journal,
    JournalEntry,
    back_up_file,
    create_journal,
    list_journals,
    load_backup,
    prune_journals,
    save_journal,
)
from dhconf.rootfs import RootFS

__all__ = [
    "FileChange",
    "Journal",
    "JournalEntry",
    "Lock",
    "RecoveryReport",
    "apply_changes",
    "commit",
    "last_journal",
    "recover",
    "restore",
    "unfinished_journal",
]

logger = logging.getLogger(__name__)

ACTIONS = ("create", "update", "delete")
LOCK_NAME = "lock"
DEFAULT_LOCK_TIMEOUT = 10.0
_LOCK_POLL_INTERVAL = 0.05


@dataclass(frozen=True)
class FileChange:
    """One file to write or remove; ``path`` is a host path."""

    path: str
    action: str  # "create" | "update" | "delete"
    content: bytes | None  # new content; None for delete
    mode: int | None = None  # for a file that does not exist yet; default 0644


@dataclass(frozen=True)
class RecoveryReport:
    """Result of ``recover`` for a transaction that a killed run left unfinished."""

    journal_id: str
    command: str
    state: str  # the state the killed run left: "writing" or "written"
    paths: tuple[str, ...]  # host paths that were put back
    directory: str

    def to_json(self) -> dict[str, object]:
        return {
            "journal": self.journal_id,
            "command": self.command,
            "state": self.state,
            "paths": list(self.paths),
            "directory": self.directory,
        }


class Lock:
    """The host-wide lock of dhconf: ``flock`` on ``<state dir>/lock`` inside the root.

    The holder writes its pid into the file, so a run that times out can name
    it. The kernel releases the lock when the holder exits, even by SIGKILL.
    """

    def __init__(
        self, fs: RootFS, *, timeout: float = DEFAULT_LOCK_TIMEOUT, state_dir: str = STATE_DIR
    ) -> None:
        self.fs = fs
        self.timeout = timeout
        self.path = f"{state_dir.rstrip('/')}/{LOCK_NAME}"
        self._fd: int | None = None

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, retrying until ``timeout`` seconds; raises ``LockHeld`` after that."""
        if self._fd is not None:
            raise RuntimeError(f"the lock {self.path} is already held by this object")
        fd = open_for_update(self.fs, self.path)
        try:
            self._wait_for_lock(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        logger.debug("Acquired the lock %s", self.path)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            # Closing the last descriptor releases the flock.
            os.close(fd)
        logger.debug("Released the lock %s", self.path)

    def _wait_for_lock(self, fd: int) -> None:
        deadline = time.monotonic() + self.timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._held_error(fd)
            if not waiting:
                logger.info("Waiting up to %.1f s for the lock %s", self.timeout, self.path)
                waiting = True
            time.sleep(min(_LOCK_POLL_INTERVAL, remaining))

    def _held_error(self, fd: int) -> LockHeld:
        pid = _read_pid(fd)
        holder = "another process (its pid is not recorded)" if pid is None else f"another dhconf run (pid {pid})"
        return LockHeld(
            f"{holder} holds the lock {self.path!r}, and it was not released within "
            f"{self.timeout:g} s. Wait for that run to finish, then run the command again.",
            pid=pid,
            path=self.path,
        )


def apply_changes(
    fs: RootFS, changes: Sequence[FileChange], *, command: str, state_dir: str = STATE_DIR
) -> Journal:
    """Write ``changes`` as one transaction and return its journal in state "written".

    The caller must hold the ``Lock``. On a failed write, the files already
    written are restored and the ``WriteFailed`` is raised, or
    ``RollbackFailed`` if the restore failed too.
    """
    _check_changes(fs, changes)
    _reject_unfinished(fs, state_dir)
    # One less than the limit, so the new journal brings the count up to it.
    prune_journals(fs, state_dir=state_dir, keep=KEEP_JOURNALS - 1)

    journal = create_journal(fs, command, state_dir=state_dir)
    _record_backups(fs, journal, changes)

    try:
        _write_changes(fs, changes)
        journal.state = WRITTEN
        save_journal(fs, journal)
    except BaseException as err:
        _undo(fs, journal, err)
        raise
    logger.info("Wrote %d file(s) in transaction %s", len(changes), journal.id)
    return journal


def commit(fs: RootFS, journal: Journal) -> None:
    """Mark a written transaction as verified, so that recovery leaves it alone."""
    if journal.state != WRITTEN:
        raise InvalidInput(
            f"cannot commit transaction {journal.id}: it is {journal.state!r}, not 'written'",
            journal=journal.id,
        )
    journal.state = COMMITTED
    save_journal(fs, journal)
    logger.info("Committed transaction %s", journal.id)


def restore(fs: RootFS, journal: Journal) -> list[str]:
    """Put every file of ``journal`` back as it was and mark it "rolled_back".

    Files the transaction created are removed; others get their old bytes,
    mode, owner and SELinux label. A file already as it was is left alone, so
    a second call changes nothing. Returns the host paths that were changed.
    Raises ``RollbackFailed`` naming the files that could not be restored
    (the others are restored all the same).
    """
    restored: list[str] = []
    failures: dict[str, str] = {}
    for entry in reversed(journal.files):
        try:
            remove_temp_files(fs, entry.path)
            if _restore_entry(fs, journal, entry):
                restored.append(entry.path)
        except DhconfError as err:
            failures[entry.path] = err.message
    if failures:
        lines = " ".join(f"{path}: {message}" for path, message in failures.items())
        raise RollbackFailed(
            f"cannot restore {len(failures)} file(s) of transaction {journal.id}. {lines} "
            f"The backups are in {journal.directory!r}.",
            journal=journal.id,
            failed=sorted(failures),
            restored=restored,
        )

    journal.state = ROLLED_BACK
    remove_temp_files(fs, journal.manifest_path)
    save_journal(fs, journal)
    logger.info("Restored %d file(s) of transaction %s", len(restored), journal.id)
    return restored


def last_journal(
    fs: RootFS, states: Sequence[str] = (COMMITTED, WRITTEN), *, state_dir: str = STATE_DIR
) -> Journal | None:
    """Return the newest journal whose state is one of ``states``."""
    for journal in reversed(list_journals(fs, state_dir=state_dir)):
        if journal.state in states:
            return journal
    return None


def unfinished_journal(fs: RootFS, *, state_dir: str = STATE_DIR) -> Journal | None:
    """Return the newest journal left in "writing" or "written" by a run that died."""
    return last_journal(fs, UNFINISHED_STATES, state_dir=state_dir)


def recover(fs: RootFS, *, state_dir: str = STATE_DIR) -> RecoveryReport | None:
    """Restore the files of an unfinished transaction, or return None when there is none.

    The killed run never verified its change, so the old files go back.
    The caller must hold the ``Lock``.
    """
    journal = unfinished_journal(fs, state_dir=state_dir)
    if journal is None:
        return None
    left_state = journal.state
    restored = restore(fs, journal)
    # INFO, not WARNING: the caller reports the recovery to the user.
    logger.info(
        "Restored %d file(s) of transaction %s (%s), which an interrupted run left %r",
        len(restored), journal.id, journal.command, left_state,
    )
    return RecoveryReport(
        journal_id=journal.id,
        command=journal.command,
        state=left_state,
        paths=tuple(restored),
        directory=journal.directory,
    )


def _check_changes(fs: RootFS, changes: Sequence[FileChange]) -> None:
    seen: dict[str, str] = {}
    for change in changes:
        if change.action not in ACTIONS:
            raise InvalidInput(
                f"invalid file action {change.action!r} for {change.path!r}. Expected one of: {', '.join(ACTIONS)}.",
                path=change.path,
            )
        if (change.content is None) != (change.action == "delete"):
            raise InvalidInput(
                f"invalid {change.action} of {change.path!r}: create and update need content, and delete takes none.",
                path=change.path,
            )
        if not change.path.startswith("/"):
            raise InvalidInput(f"file path {change.path!r} is not absolute", path=change.path)
        target = fs.resolve(change.path)
        if target in seen:
            raise InvalidInput(
                f"{change.path!r} and {seen[target]!r} are the same file {target!r}, "
                "but a transaction changes each file once. Merge the two changes.",
                path=change.path,
            )
        seen[target] = change.path


def _reject_unfinished(fs: RootFS, state_dir: str) -> None:
    journal = unfinished_journal(fs, state_dir=state_dir)
    if journal is not None:
        raise WriteFailed(
            f"transaction {journal.id} ({journal.command}) was left {journal.state!r} by an "
            "interrupted run, so nothing was written. Recover it first, which restores its files.",
            journal=journal.id,
        )


def _record_backups(fs: RootFS, journal: Journal, changes: Sequence[FileChange]) -> None:
    """Copy every old file into the journal and write the manifest, or leave no journal on failure."""
    try:
        journal.files = [
            back_up_file(fs, journal, index, change.path, action=change.action, new_content=change.content)
            for index, change in enumerate(changes)
        ]
        save_journal(fs, journal)
    except BaseException:
        _discard_journal(fs, journal)
        raise


def _write_changes(fs: RootFS, changes: Sequence[FileChange]) -> None:
    for change in changes:
        if change.content is None:
            remove_file(fs, change.path)
        else:
            write_atomic(fs, change.path, change.content, mode=change.mode)


def _restore_entry(fs: RootFS, journal: Journal, entry: JournalEntry) -> bool:
    """Put one file back and return whether anything had to change."""
    current = read_file(fs, entry.path)
    if not entry.existed:
        changed = current is not None
        if changed:
            remove_file(fs, entry.path)
        for directory in reversed(entry.created_directories):
            changed = remove_empty_directory(fs, directory) or changed
        return changed

    old = load_backup(fs, journal, entry)
    metadata = entry.metadata
    if current == (old, metadata):
        return False
    write_atomic(fs, entry.path, old, metadata=metadata)
    return True


def _undo(fs: RootFS, journal: Journal, cause: BaseException) -> None:
    """Restore after a failed write. Raises ``RollbackFailed`` when that fails too."""
    try:
        restored = restore(fs, journal)
    except RollbackFailed as err:
        raise RollbackFailed(
            f"{_message(cause)} Restoring the files written before it failed too: {err.message}",
            **err.details,
        ) from cause
    except WriteFailed as err:
        # The files are back and only the journal's "rolled_back" mark is missing.
        # Recovering it later finds every file as it was and changes nothing.
        logger.warning("Could not mark transaction %s rolled back: %s", journal.id, err.message)
        return
    if restored and isinstance(cause, DhconfError):
        cause.details["restored"] = restored
        logger.info("Put back %s after the failed write", ", ".join(restored))


def _discard_journal(fs: RootFS, journal: Journal) -> None:
    try:
        remove_tree(fs, journal.directory)
    except WriteFailed as err:
        # No target was written yet, and the next run prunes a directory without a manifest.
        logger.warning("Could not remove the incomplete journal %s: %s", journal.directory, err.message)


def _message(err: BaseException) -> str:
    return err.message if isinstance(err, DhconfError) else f"{type(err).__name__}: {err}"


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
