"""Tests of dhconf.journal: manifests, backups, listing and pruning on a real filesystem."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dhconf.errors import SourceError
from dhconf.journal import (
    COMMITTED,
    KEEP_JOURNALS,
    ROLLED_BACK,
    WRITING,
    WRITTEN,
    Journal,
    JournalEntry,
    create_journal,
    journals_directory,
    list_journals,
    load_backup,
    load_journal,
    prune_journals,
    save_journal,
    sha256_hex,
    store_backup,
)
from dhconf.rootfs import RootFS

LABEL = b"system_u:object_r:container_config_t:s0\0"


@pytest.fixture
def fs(tmp_path: Path) -> RootFS:
    return RootFS(tmp_path)


def local(fs: RootFS, host_path: str) -> Path:
    return fs.root / host_path.lstrip("/")


def recorded(fs: RootFS, state: str, command: str = "set") -> Journal:
    journal = create_journal(fs, command)
    journal.state = state
    save_journal(fs, journal)
    return journal


def test_create_journal_in_state_dir(fs: RootFS) -> None:
    journal = create_journal(fs, "set -H fd://")
    assert journal.directory == f"/var/lib/dhconf/journal/{journal.id}"
    assert journal.state == WRITING


def test_create_journal_directory_private(fs: RootFS) -> None:
    journal = create_journal(fs, "set")
    assert stat.S_IMODE(local(fs, journal.directory).stat().st_mode) == 0o700


def test_create_journal_ids_increase(fs: RootFS) -> None:
    first = create_journal(fs, "set")
    second = create_journal(fs, "add")
    assert first.id.split("-")[0] == "000001"
    assert second.id.split("-")[0] == "000002"


def test_create_journal_custom_state_dir(fs: RootFS) -> None:
    journal = create_journal(fs, "set", state_dir="/home/user/.local/state/dhconf")
    assert journal.directory.startswith("/home/user/.local/state/dhconf/journal/")


def test_save_load_round_trip(fs: RootFS) -> None:
    journal = create_journal(fs, "set -H unix:///var/run/docker.sock")
    journal.files = [
        JournalEntry(
            path="/etc/default/docker",
            action="update",
            existed=True,
            backup="000.bak",
            sha256="0" * 64,
            new_sha256="1" * 64,
            mode=0o640,
            uid=1234,
            gid=1234,
            selinux=LABEL.decode("latin-1"),
        ),
        JournalEntry(
            path="/etc/systemd/system/docker.service.d/dhconf.conf",
            action="create",
            existed=False,
            new_sha256="2" * 64,
            created_directories=["/etc/systemd/system/docker.service.d"],
        ),
    ]
    save_journal(fs, journal)

    loaded = load_journal(fs, journal.directory)

    assert loaded == journal


def test_entry_metadata_label_bytes(fs: RootFS) -> None:
    entry = JournalEntry(
        path="/x", action="update", existed=True, mode=0o600, uid=0, gid=0,
        selinux=LABEL.decode("latin-1"),
    )
    assert entry.metadata.selinux == LABEL


def test_entry_metadata_none_for_new_file() -> None:
    entry = JournalEntry(path="/x", action="create", existed=False)
    assert entry.metadata is None


def test_manifest_is_json_with_version(fs: RootFS) -> None:
    journal = recorded(fs, WRITTEN)
    raw = json.loads(local(fs, journal.manifest_path).read_text())
    assert raw["version"] == 1
    assert raw["state"] == WRITTEN


def test_manifest_mode_0600(fs: RootFS) -> None:
    journal = recorded(fs, WRITING)
    assert stat.S_IMODE(local(fs, journal.manifest_path).stat().st_mode) == 0o600


def test_backup_round_trip(fs: RootFS) -> None:
    journal = create_journal(fs, "set")
    data = b"DOCKER_OPTS=\"-H tcp://127.0.0.1:2375\"\n"
    name = store_backup(fs, journal, 0, data)
    entry = JournalEntry(path="/etc/default/docker", action="update", existed=True, backup=name, sha256=sha256_hex(data))
    assert load_backup(fs, journal, entry) == data


def test_backup_mode_0600(fs: RootFS) -> None:
    journal = create_journal(fs, "set")
    name = store_backup(fs, journal, 0, b"secret\n")
    assert stat.S_IMODE(local(fs, f"{journal.directory}/{name}").stat().st_mode) == 0o600


def test_backup_damaged_rejected(fs: RootFS) -> None:
    journal = create_journal(fs, "set")
    name = store_backup(fs, journal, 0, b"old\n")
    entry = JournalEntry(path="/etc/default/docker", action="update", existed=True, backup=name, sha256=sha256_hex(b"old\n"))
    local(fs, f"{journal.directory}/{name}").write_bytes(b"ol")

    with pytest.raises(SourceError) as caught:
        load_backup(fs, journal, entry)

    assert "SHA-256" in caught.value.message


def test_backup_missing_rejected(fs: RootFS) -> None:
    journal = create_journal(fs, "set")
    entry = JournalEntry(path="/etc/default/docker", action="update", existed=True, backup="000.bak", sha256="0" * 64)
    with pytest.raises(SourceError) as caught:
        load_backup(fs, journal, entry)
    assert "missing" in caught.value.message


def test_load_journal_without_manifest_is_none(fs: RootFS) -> None:
    journal = create_journal(fs, "set")
    assert load_journal(fs, journal.directory) is None


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"id": "x"}', '{"id": "x", "state": "writing", "command": "", "created": "", "files": [{"bogus": 1}]}'],
    ids=["syntax", "missing-keys", "bad-entry"],
)
def test_load_journal_damaged_raises(fs: RootFS, text: str) -> None:
    journal = create_journal(fs, "set")
    local(fs, journal.manifest_path).write_text(text)
    with pytest.raises(SourceError):
        load_journal(fs, journal.directory)


def test_load_journal_unknown_state_raises(fs: RootFS) -> None:
    journal = recorded(fs, WRITTEN)
    path = local(fs, journal.manifest_path)
    path.write_text(path.read_text().replace('"written"', '"half-done"'))
    with pytest.raises(SourceError) as caught:
        load_journal(fs, journal.directory)
    assert "'half-done'" in caught.value.message


def test_list_journals_oldest_first(fs: RootFS) -> None:
    journal_ids = [recorded(fs, COMMITTED).id for _ in range(3)]
    assert [journal.id for journal in list_journals(fs)] == journal_ids


def test_list_journals_skips_other_entries(fs: RootFS) -> None:
    committed = recorded(fs, COMMITTED)
    create_journal(fs, "no manifest")
    (local(fs, journals_directory()) / "README").write_text("not a journal\n")
    assert [journal.id for journal in list_journals(fs)] == [committed.id]


def test_list_journals_none_yet(fs: RootFS) -> None:
    assert list_journals(fs) == []


def test_prune_keeps_newest_finished(fs: RootFS) -> None:
    journal_ids = [recorded(fs, COMMITTED if index % 2 else ROLLED_BACK).id for index in range(KEEP_JOURNALS + 3)]
    prune_journals(fs)
    assert [journal.id for journal in list_journals(fs)] == journal_ids[-KEEP_JOURNALS:]


def test_prune_keeps_unfinished(fs: RootFS) -> None:
    unfinished = [recorded(fs, WRITING).id, recorded(fs, WRITTEN).id]
    for _ in range(3):
        recorded(fs, COMMITTED)
    prune_journals(fs, keep=1)
    remaining = [journal.id for journal in list_journals(fs)]
    assert remaining[:2] == unfinished
    assert len(remaining) == 3


def test_prune_removes_directory_without_manifest(fs: RootFS) -> None:
    orphan = create_journal(fs, "killed before its manifest")
    removed = prune_journals(fs)
    assert removed == [orphan.directory]
    assert not local(fs, orphan.directory).exists()
