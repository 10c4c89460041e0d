"""The journal of a transaction: what it changes, and copies of the old files.

Each transaction gets a directory ``<state dir>/journal/<id>/`` inside the
root, holding ``manifest.json`` and one backup blob per file that existed
before. The blobs are written first and the manifest last, each atomically,
so a manifest on disk always describes backups that are complete. A directory
without a manifest belongs to a run that died before it changed any target.

The id starts with a sequence number, so journals sort in the order they were
made even when the clock jumps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from dhconf.atomic import FileMetadata, ensure_directory, read_file, remove_tree, write_atomic
from dhconf.errors import SourceError
from dhconf.rootfs import RootFS

logger = logging.getLogger(__name__)

STATE_DIR = "/var/lib/dhconf"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1
KEEP_JOURNALS = 10
# Backups can hold secrets from environment files, so only root may read them.
JOURNAL_DIRECTORY_MODE = 0o700
JOURNAL_FILE_MODE = 0o600

WRITING = "writing"  # backups taken, writes in progress
WRITTEN = "written"  # every file written, not yet verified by the caller
COMMITTED = "committed"  # the caller verified the change
ROLLED_BACK = "rolled_back"  # the old files are back
STATES = (WRITING, WRITTEN, COMMITTED, ROLLED_BACK)
UNFINISHED_STATES = (WRITING, WRITTEN)

_ID_PATTERN = re.compile(r"^(\d{6,})-\d{8}T\d{6}Z$")


@dataclass
class JournalEntry:
    """One file of a transaction and how it was before.

    ``existed`` is False for a file that the transaction creates: restoring
    removes it. Otherwise ``backup`` names the blob with the old bytes,
    ``sha256`` is their digest, and ``mode``, ``uid``, ``gid`` and ``selinux``
    (the label, as latin-1 text so that any bytes survive JSON) are the old
    metadata. ``new_sha256`` is the digest of the new content (None for a delete).
    ``created_directories`` are the parent directories that did not exist
    before, outermost first; restoring removes them when they are empty.
    """

    path: str
    action: str
    existed: bool
    backup: str | None = None
    sha256: str | None = None
    new_sha256: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    selinux: str | None = None
    created_directories: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> FileMetadata | None:
        """The old file's metadata, or None for a file that did not exist."""
        if not self.existed or self.mode is None or self.uid is None or self.gid is None:
            return None
        label = None if self.selinux is None else self.selinux.encode("latin-1")
        return FileMetadata(mode=self.mode, uid=self.uid, gid=self.gid, selinux=label)


@dataclass
class Journal:
    """One transaction, stored under ``directory`` (a host path inside the root)."""

    id: str
    state: str
    command: str
    created: str
    files: list[JournalEntry] = field(default_factory=list)
    directory: str = ""

    @property
    def manifest_path(self) -> str:
        return f"{self.directory}/{MANIFEST}"

    def to_json(self) -> dict[str, object]:
        return {
            "version": FORMAT_VERSION,
            "id": self.id,
            "state": self.state,
            "command": self.command,
            "created": self.created,
            "files": [asdict(entry) for entry in self.files],
        }


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def journals_directory(state_dir: str = STATE_DIR) -> str:
    return f"{state_dir.rstrip('/')}/journal"


def create_journal(fs: RootFS, command: str, *, state_dir: str = STATE_DIR) -> Journal:
    """Create the directory of a new transaction in state "writing", without writing its manifest yet."""
    base = journals_directory(state_dir)
    sequence = max((_sequence(name) for name in fs.listdir(base)), default=0) + 1
    now = datetime.now(timezone.utc)
    journal_id = f"{sequence:06d}-{now.strftime('%Y%m%dT%H%M%SZ')}"
    directory = f"{base}/{journal_id}"
    ensure_directory(fs, directory, mode=JOURNAL_DIRECTORY_MODE)
    logger.debug("Created journal directory %s", directory)
    return Journal(
        id=journal_id,
        state=WRITING,
        command=command,
        created=now.isoformat(timespec="seconds"),
        directory=directory,
    )


def save_journal(fs: RootFS, journal: Journal) -> None:
    """Write the manifest atomically. Raises ``WriteFailed``."""
    text = json.dumps(journal.to_json(), indent=2) + "\n"
    write_atomic(fs, journal.manifest_path, text.encode("utf-8"), mode=JOURNAL_FILE_MODE)
    logger.debug("Recorded journal %s as %s", journal.id, journal.state)


def store_backup(fs: RootFS, journal: Journal, index: int, data: bytes) -> str:
    """Write a backup blob into the journal directory and return its file name."""
    name = f"{index:03d}.bak"
    write_atomic(fs, f"{journal.directory}/{name}", data, mode=JOURNAL_FILE_MODE)
    return name


def back_up_file(
    fs: RootFS, journal: Journal, index: int, host_path: str, *, action: str, new_content: bytes | None
) -> JournalEntry:
    """Copy the file at ``host_path`` into the journal, or note the directories that a new file needs."""
    new_sha256 = None if new_content is None else sha256_hex(new_content)
    current = read_file(fs, host_path)
    if current is None:
        return JournalEntry(
            path=host_path,
            action=action,
            existed=False,
            new_sha256=new_sha256,
            created_directories=_missing_directories(fs, host_path),
        )
    data, metadata = current
    return JournalEntry(
        path=host_path,
        action=action,
        existed=True,
        backup=store_backup(fs, journal, index, data),
        sha256=sha256_hex(data),
        new_sha256=new_sha256,
        mode=metadata.mode,
        uid=metadata.uid,
        gid=metadata.gid,
        selinux=None if metadata.selinux is None else metadata.selinux.decode("latin-1"),
    )


def load_backup(fs: RootFS, journal: Journal, entry: JournalEntry) -> bytes:
    """Return the old bytes of ``entry``. Raises ``SourceError`` when the blob is missing or damaged."""
    path = f"{journal.directory}/{entry.backup}"
    data = fs.read_bytes(path) if entry.backup else None
    if data is None:
        raise SourceError(
            f"the backup of {entry.path!r} is missing from journal {journal.id} ({path!r}). "
            "Restore the file by hand from another copy.",
            path=entry.path,
            journal=journal.id,
        )
    if sha256_hex(data) != entry.sha256:
        raise SourceError(
            f"the backup of {entry.path!r} in journal {journal.id} ({path!r}) does not match "
            "its recorded SHA-256, so it was not restored. Restore the file by hand from another copy.",
            path=entry.path,
            journal=journal.id,
        )
    return data


def load_journal(fs: RootFS, directory: str) -> Journal | None:
    """Read the manifest in ``directory``, or return None when there is none.

    Raises ``SourceError`` for a manifest that is not a journal.
    """
    path = f"{directory}/{MANIFEST}"
    text = fs.read_text(path)
    if text is None:
        return None
    try:
        raw = json.loads(text)
        journal = Journal(
            id=raw["id"],
            state=raw["state"],
            command=raw["command"],
            created=raw["created"],
            files=[JournalEntry(**entry) for entry in raw["files"]],
            directory=directory,
        )
    except (ValueError, KeyError, TypeError) as err:
        raise SourceError(
            f"the journal manifest {path!r} is damaged ({err}). Move its directory away "
            "after restoring its files by hand if needed.",
            path=path,
        ) from err
    if journal.state not in STATES:
        raise SourceError(
            f"the journal manifest {path!r} has an unknown state {journal.state!r}",
            path=path,
        )
    return journal


def list_journals(fs: RootFS, *, state_dir: str = STATE_DIR) -> list[Journal]:
    """Return the recorded journals, oldest first, skipping directories without a manifest."""
    base = journals_directory(state_dir)
    journals = []
    for name in sorted(fs.listdir(base), key=_sequence):
        if not _ID_PATTERN.match(name):
            continue
        journal = load_journal(fs, f"{base}/{name}")
        if journal is not None:
            journals.append(journal)
    return journals


def prune_journals(fs: RootFS, *, state_dir: str = STATE_DIR, keep: int = KEEP_JOURNALS) -> list[str]:
    """Remove finished journals beyond the newest ``keep``, and directories without a manifest.

    Journals in "writing" or "written" are never removed: they may still have
    to be restored. Call it only while holding the lock, or it could remove
    the directory of a transaction that another run is starting. Returns the
    removed directories.
    """
    base = journals_directory(state_dir)
    removed = []
    finished = []
    for name in sorted(fs.listdir(base), key=_sequence):
        if not _ID_PATTERN.match(name):
            continue
        directory = f"{base}/{name}"
        journal = load_journal(fs, directory)
        if journal is None:
            remove_tree(fs, directory)
            removed.append(directory)
        elif journal.state not in UNFINISHED_STATES:
            finished.append(directory)
    for directory in finished[: max(len(finished) - keep, 0)]:
        remove_tree(fs, directory)
        removed.append(directory)
    if removed:
        logger.debug("Pruned %d old journal directories under %s", len(removed), base)
    return removed


def _missing_directories(fs: RootFS, host_path: str) -> list[str]:
    """Return the parents of ``host_path`` (as resolved in the root) that do not exist, outermost first."""
    missing = []
    parent = posixpath.dirname(fs.resolve(host_path))
    while parent != "/" and not fs.is_dir(parent):
        missing.insert(0, parent)
        parent = posixpath.dirname(parent)
    return missing


def _sequence(name: str) -> int:
    match = _ID_PATTERN.match(name)
    return int(match.group(1)) if match else 0
