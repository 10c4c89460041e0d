"""Tests of dhconf.apply: transactions, restore, recovery and the lock, on a real filesystem."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dhconf.apply import (
    FileChange,
    Lock,
    apply_changes,
    commit,
    last_journal,
    recover,
    restore,
    unfinished_journal,
)
from dhconf.atomic import SELINUX_XATTR
from dhconf.errors import InvalidInput, RollbackFailed, WriteFailed
from dhconf.journal import COMMITTED, KEEP_JOURNALS, ROLLED_BACK, WRITTEN, list_journals
from dhconf.rootfs import RootFS

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DHCONF_CORPUS", REPO.parent / "shared" / "corpus"))
CORPUS_FILES = sorted(path for path in CORPUS.rglob("*") if path.is_file()) if CORPUS.is_dir() else []

DEFAULT = "/etc/default/docker"
DAEMON_JSON = "/etc/docker/daemon.json"
DROP_IN = "/etc/systemd/system/docker.service.d/dhconf.conf"
LABEL = b"system_u:object_r:container_config_t:s0\0"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "root"
    tree.mkdir()
    return tree


@pytest.fixture
def fs(root: Path) -> RootFS:
    return RootFS(root)


def put(root: Path, host_path: str, data: bytes) -> Path:
    path = root / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def supports_selinux_xattr(path: Path) -> bool:
    probe = path / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, SELINUX_XATTR, LABEL)
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def three_changes() -> list[FileChange]:
    return [
        FileChange(DEFAULT, "update", b'DOCKER_OPTS="-H unix:///var/run/docker.sock"\n'),
        FileChange(DROP_IN, "create", b"[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd://\n"),
        FileChange(DAEMON_JSON, "delete", None),
    ]


@pytest.fixture
def old_tree(root: Path) -> dict[str, bytes]:
    old = {
        DEFAULT: b'DOCKER_OPTS="-H tcp://127.0.0.1:2375"\n',
        DAEMON_JSON: b'{"hosts": ["unix:///var/run/docker.sock"]}\n',
    }
    for path, data in old.items():
        put(root, path, data)
    return old


def test_apply_writes_every_change(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    changes = three_changes()
    apply_changes(fs, changes, command="set")
    assert (root / DEFAULT.lstrip("/")).read_bytes() == changes[0].content
    assert (root / DROP_IN.lstrip("/")).read_bytes() == changes[1].content
    assert not (root / DAEMON_JSON.lstrip("/")).exists()


def test_apply_returns_written_journal(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set -H fd://")
    assert journal.state == WRITTEN
    assert journal.command == "set -H fd://"
    assert [entry.path for entry in journal.files] == [DEFAULT, DROP_IN, DAEMON_JSON]


def test_apply_records_created_and_backed_up(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    assert [entry.existed for entry in journal.files] == [True, False, True]
    assert journal.files[1].created_directories == [
        "/etc/systemd",
        "/etc/systemd/system",
        "/etc/systemd/system/docker.service.d",
    ]


def test_restore_puts_files_back(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    restore(fs, journal)
    assert (root / DEFAULT.lstrip("/")).read_bytes() == old_tree[DEFAULT]
    assert (root / DAEMON_JSON.lstrip("/")).read_bytes() == old_tree[DAEMON_JSON]
    assert not (root / DROP_IN.lstrip("/")).exists()


def test_restore_removes_created_directories(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    restore(fs, journal)
    assert not (root / "etc/systemd").exists()
    assert (root / "etc/default").is_dir()


def test_restore_keeps_directory_with_new_files(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    put(root, "/etc/systemd/system/docker.service.d/other.conf", b"[Service]\n")
    restore(fs, journal)
    assert (root / "etc/systemd/system/docker.service.d/other.conf").exists()


def test_restore_returns_changed_paths(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    assert sorted(restore(fs, journal)) == sorted([DEFAULT, DROP_IN, DAEMON_JSON])


def test_restore_marks_rolled_back(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    restore(fs, journal)
    assert [entry.state for entry in list_journals(fs)] == [ROLLED_BACK]


def test_restore_is_idempotent(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    restore(fs, journal)
    snapshot = {path: path.read_bytes() for path in root.joinpath("etc").rglob("*") if path.is_file()}

    second = restore(fs, journal)

    assert second == []
    assert {path: path.read_bytes() for path in root.joinpath("etc").rglob("*") if path.is_file()} == snapshot


def test_update_keeps_mode_and_owner(fs: RootFS, root: Path) -> None:
    target = put(root, DEFAULT, b"old\n")
    os.chown(target, 1234, 1234)
    os.chmod(target, 0o640)

    apply_changes(fs, [FileChange(DEFAULT, "update", b"new\n")], command="set")

    result = target.stat()
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(result.st_mode) == 0o640
    assert (result.st_uid, result.st_gid) == (1234, 1234)


def test_restore_deleted_keeps_mode_and_owner(fs: RootFS, root: Path) -> None:
    target = put(root, DAEMON_JSON, b"{}\n")
    os.chown(target, 1234, 1234)
    os.chmod(target, 0o640)
    journal = apply_changes(fs, [FileChange(DAEMON_JSON, "delete", None)], command="set")

    restore(fs, journal)

    result = target.stat()
    assert stat.S_IMODE(result.st_mode) == 0o640
    assert (result.st_uid, result.st_gid) == (1234, 1234)


def test_restore_after_chmod_resets_mode(fs: RootFS, root: Path) -> None:
    target = put(root, DEFAULT, b"old\n")
    os.chmod(target, 0o640)
    journal = apply_changes(fs, [FileChange(DEFAULT, "update", b"new\n")], command="set")
    os.chmod(target, 0o666)

    assert restore(fs, journal) == [DEFAULT]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_create_new_file_mode_0644(fs: RootFS, root: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        apply_changes(fs, [FileChange(DROP_IN, "create", b"[Service]\n")], command="set")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((root / DROP_IN.lstrip("/")).stat().st_mode) == 0o644


def test_create_with_mode(fs: RootFS, root: Path) -> None:
    apply_changes(fs, [FileChange(DAEMON_JSON, "create", b"{}\n", mode=0o600)], command="set")
    assert stat.S_IMODE((root / DAEMON_JSON.lstrip("/")).stat().st_mode) == 0o600


def test_update_keeps_selinux_label(fs: RootFS, root: Path) -> None:
    if not supports_selinux_xattr(root):
        pytest.skip(f"the filesystem under {root} does not store {SELINUX_XATTR} for this user")
    target = put(root, DAEMON_JSON, b"{}\n")
    os.setxattr(target, SELINUX_XATTR, LABEL)

    apply_changes(fs, [FileChange(DAEMON_JSON, "update", b'{"hosts": []}\n')], command="set")

    assert os.getxattr(target, SELINUX_XATTR) == LABEL


def test_restore_deleted_keeps_selinux_label(fs: RootFS, root: Path) -> None:
    if not supports_selinux_xattr(root):
        pytest.skip(f"the filesystem under {root} does not store {SELINUX_XATTR} for this user")
    target = put(root, DAEMON_JSON, b"{}\n")
    os.setxattr(target, SELINUX_XATTR, LABEL)
    journal = apply_changes(fs, [FileChange(DAEMON_JSON, "delete", None)], command="set")

    restore(fs, journal)

    assert os.getxattr(target, SELINUX_XATTR) == LABEL


@pytest.mark.skipif(not CORPUS_FILES, reason=f"no corpus at {CORPUS}; set DHCONF_CORPUS")
@pytest.mark.parametrize("corpus_file", CORPUS_FILES, ids=lambda path: str(path.relative_to(CORPUS)))
def test_restore_corpus_file_byte_exact(fs: RootFS, root: Path, corpus_file: Path) -> None:
    original = corpus_file.read_bytes()
    target = put(root, DEFAULT, original)
    journal = apply_changes(fs, [FileChange(DEFAULT, "update", b"DOCKER_OPTS=\n")], command="set")

    restore(fs, journal)

    assert target.read_bytes() == original


def test_apply_through_absolute_link_stays_in_root(fs: RootFS, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "etc").mkdir()
    (root / "etc/docker").symlink_to(outside)

    journal = apply_changes(fs, [FileChange(DAEMON_JSON, "create", b"{}\n")], command="set")

    assert list(outside.iterdir()) == []
    assert (root / str(outside).lstrip("/") / "daemon.json").read_bytes() == b"{}\n"
    restore(fs, journal)
    assert not (root / str(outside).lstrip("/") / "daemon.json").exists()


def test_commit_marks_committed(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    commit(fs, journal)
    assert [entry.state for entry in list_journals(fs)] == [COMMITTED]


def test_commit_twice_rejected(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    commit(fs, journal)
    with pytest.raises(InvalidInput):
        commit(fs, journal)


def test_last_journal_newest_committed(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    first = apply_changes(fs, [FileChange(DEFAULT, "update", b"one\n")], command="set one")
    commit(fs, first)
    second = apply_changes(fs, [FileChange(DEFAULT, "update", b"two\n")], command="set two")
    commit(fs, second)
    assert last_journal(fs).id == second.id


def test_last_journal_skips_rolled_back(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    first = apply_changes(fs, [FileChange(DEFAULT, "update", b"one\n")], command="set one")
    commit(fs, first)
    second = apply_changes(fs, [FileChange(DEFAULT, "update", b"two\n")], command="set two")
    commit(fs, second)
    restore(fs, second)
    assert last_journal(fs).id == first.id


def test_last_journal_none(fs: RootFS) -> None:
    assert last_journal(fs) is None


def test_rollback_twice_undoes_two(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    for content in (b"one\n", b"two\n"):
        commit(fs, apply_changes(fs, [FileChange(DEFAULT, "update", content)], command="set"))
    restore(fs, last_journal(fs))
    assert (root / DEFAULT.lstrip("/")).read_bytes() == b"one\n"
    restore(fs, last_journal(fs))
    assert (root / DEFAULT.lstrip("/")).read_bytes() == old_tree[DEFAULT]


def test_unfinished_journal_finds_written(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    assert unfinished_journal(fs).id == journal.id


def test_unfinished_journal_ignores_committed(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    commit(fs, apply_changes(fs, three_changes(), command="set"))
    assert unfinished_journal(fs) is None


def test_recover_nothing_to_do(fs: RootFS) -> None:
    assert recover(fs) is None


def test_recover_restores_uncommitted(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set -H fd://")

    report = recover(fs)

    assert report.journal_id == journal.id
    assert report.command == "set -H fd://"
    assert report.state == WRITTEN
    assert sorted(report.paths) == sorted([DEFAULT, DROP_IN, DAEMON_JSON])
    assert (root / DEFAULT.lstrip("/")).read_bytes() == old_tree[DEFAULT]
    assert unfinished_journal(fs) is None


def test_apply_rejected_while_unfinished(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    first = apply_changes(fs, [FileChange(DEFAULT, "update", b"first\n")], command="set")
    with pytest.raises(WriteFailed) as caught:
        apply_changes(fs, [FileChange(DEFAULT, "update", b"second\n")], command="set")
    assert caught.value.details["journal"] == first.id
    assert (root / DEFAULT.lstrip("/")).read_bytes() == b"first\n"


def test_apply_prunes_old_journals(fs: RootFS, old_tree: dict[str, bytes]) -> None:
    for index in range(KEEP_JOURNALS + 3):
        commit(fs, apply_changes(fs, [FileChange(DEFAULT, "update", b"%d\n" % index)], command=f"set {index}"))
    commands = [journal.command for journal in list_journals(fs)]
    assert commands == [f"set {index}" for index in range(3, KEEP_JOURNALS + 3)]


def test_restore_damaged_backup_fails(fs: RootFS, root: Path, old_tree: dict[str, bytes]) -> None:
    journal = apply_changes(fs, three_changes(), command="set")
    blob = root / journal.directory.lstrip("/") / journal.files[0].backup
    blob.write_bytes(b"tampered\n")

    with pytest.raises(RollbackFailed) as caught:
        restore(fs, journal)

    assert caught.value.details["failed"] == [DEFAULT]
    assert (root / DEFAULT.lstrip("/")).read_bytes() == three_changes()[0].content
    assert (root / DAEMON_JSON.lstrip("/")).read_bytes() == old_tree[DAEMON_JSON]
    assert unfinished_journal(fs).id == journal.id


@pytest.mark.parametrize(
    "change",
    [
        FileChange(DEFAULT, "replace", b"x\n"),
        FileChange(DEFAULT, "update", None),
        FileChange(DEFAULT, "delete", b"x\n"),
        FileChange("etc/default/docker", "update", b"x\n"),
    ],
    ids=["unknown-action", "update-without-content", "delete-with-content", "relative-path"],
)
def test_apply_invalid_change_rejected(fs: RootFS, root: Path, change: FileChange) -> None:
    with pytest.raises(InvalidInput):
        apply_changes(fs, [change], command="set")
    assert not (root / "var/lib/dhconf/journal").exists()


def test_apply_same_file_twice_rejected(fs: RootFS, root: Path) -> None:
    put(root, "/etc/docker-defaults", b"old\n")
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/default/docker").symlink_to("/etc/docker-defaults")
    changes = [
        FileChange(DEFAULT, "update", b"one\n"),
        FileChange("/etc/docker-defaults", "update", b"two\n"),
    ]
    with pytest.raises(InvalidInput) as caught:
        apply_changes(fs, changes, command="set")
    assert "'/etc/docker-defaults'" in caught.value.message


def test_lock_records_pid(fs: RootFS, root: Path) -> None:
    with Lock(fs):
        assert (root / "var/lib/dhconf/lock").read_text() == f"{os.getpid()}\n"


def test_lock_cleared_on_release(fs: RootFS, root: Path) -> None:
    with Lock(fs):
        pass
    assert (root / "var/lib/dhconf/lock").read_text() == ""


def test_lock_taken_again_after_release(fs: RootFS) -> None:
    with Lock(fs):
        pass
    with Lock(fs, timeout=0) as lock:
        assert lock.path == "/var/lib/dhconf/lock"
