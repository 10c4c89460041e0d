"""Tests of dhconf.atomic on a real filesystem under a temporary root."""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

import pytest

from dhconf.atomic import (
    SELINUX_XATTR,
    TEMP_SUFFIX,
    FileMetadata,
    ensure_directory,
    open_for_update,
    read_file,
    remove_empty_directory,
    remove_file,
    remove_temp_files,
    remove_tree,
    write_atomic,
)
from dhconf.errors import SourceError, WriteFailed
from dhconf.rootfs import RootFS

LABEL = b"system_u:object_r:container_config_t:s0\0"


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.endswith(TEMP_SUFFIX)]


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


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "root"
    tree.mkdir()
    return tree


@pytest.fixture
def fs(root: Path) -> RootFS:
    return RootFS(root)


@pytest.fixture
def umask_077():
    old = os.umask(0o077)
    yield
    os.umask(old)


def test_write_new_file_content(fs: RootFS, root: Path) -> None:
    write_atomic(fs, "/etc/default/docker", b"DOCKER_OPTS=-H fd://\n")
    assert (root / "etc/default/docker").read_bytes() == b"DOCKER_OPTS=-H fd://\n"


def test_write_new_file_mode_0644_despite_umask(fs: RootFS, root: Path, umask_077: None) -> None:
    write_atomic(fs, "/etc/default/docker", b"x\n")
    assert stat.S_IMODE((root / "etc/default/docker").stat().st_mode) == 0o644


def test_write_new_file_owned_by_root(fs: RootFS, root: Path) -> None:
    # In a set-group-ID directory a new file would otherwise take the directory's group.
    os.chown(root, 1234, 1234)
    os.chmod(root, 0o2755)
    write_atomic(fs, "/docker", b"x\n")
    result = (root / "docker").stat()
    assert (result.st_uid, result.st_gid) == (0, 0)


def test_write_new_file_with_mode(fs: RootFS, root: Path) -> None:
    write_atomic(fs, "/etc/docker/daemon.json", b"{}\n", mode=0o600)
    assert stat.S_IMODE((root / "etc/docker/daemon.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("directory", ["etc", "etc/systemd", "etc/systemd/system", "etc/systemd/system/docker.service.d"])
def test_write_creates_parents_0755(fs: RootFS, root: Path, umask_077: None, directory: str) -> None:
    write_atomic(fs, "/etc/systemd/system/docker.service.d/dhconf.conf", b"[Service]\n")
    assert stat.S_IMODE((root / directory).stat().st_mode) == 0o755


def test_write_keeps_mode_and_owner(fs: RootFS, root: Path) -> None:
    target = root / "etc/default/docker"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old\n")
    os.chown(target, 1234, 1234)
    os.chmod(target, 0o640)

    write_atomic(fs, "/etc/default/docker", b"new\n", mode=0o600)

    result = target.stat()
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(result.st_mode) == 0o640
    assert (result.st_uid, result.st_gid) == (1234, 1234)


def test_write_keeps_setgid_bit_after_chown(fs: RootFS, root: Path) -> None:
    target = root / "tool"
    target.write_bytes(b"old\n")
    os.chown(target, 1234, 1234)
    os.chmod(target, 0o2755)
    write_atomic(fs, "/tool", b"new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o2755


def test_write_keeps_selinux_label(fs: RootFS, root: Path) -> None:
    if not supports_selinux_xattr(root):
        pytest.skip(f"the filesystem under {root} does not store {SELINUX_XATTR} for this user")
    target = root / "daemon.json"
    target.write_bytes(b"{}\n")
    os.setxattr(target, SELINUX_XATTR, LABEL)

    write_atomic(fs, "/daemon.json", b'{"hosts": []}\n')

    assert os.getxattr(target, SELINUX_XATTR) == LABEL


def test_write_with_metadata_sets_all(fs: RootFS, root: Path) -> None:
    label = LABEL if supports_selinux_xattr(root) else None
    write_atomic(fs, "/docker", b"x\n", metadata=FileMetadata(0o640, 1234, 4321, label))
    result = (root / "docker").stat()
    assert stat.S_IMODE(result.st_mode) == 0o640
    assert (result.st_uid, result.st_gid) == (1234, 4321)
    if label is not None:
        assert os.getxattr(root / "docker", SELINUX_XATTR) == label


def test_write_leaves_no_temp_file(fs: RootFS, root: Path) -> None:
    write_atomic(fs, "/etc/default/docker", b"one\n")
    write_atomic(fs, "/etc/default/docker", b"two\n")
    assert temp_files(root) == []


def test_write_logs_one_debug_line(fs: RootFS, caplog: pytest.LogCaptureFixture) -> None:
    (fs.root / "etc").mkdir()
    with caplog.at_level(logging.DEBUG, logger="dhconf.atomic"):
        write_atomic(fs, "/etc/docker.conf", b"x\n")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1, lines
    assert "/etc/docker.conf" in lines[0]


def test_write_fsync_error_keeps_old_file(
    fs: RootFS, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An I/O error from the disk cannot be produced on demand, so fsync fails by patch.
    target = root / "docker"
    target.write_bytes(b"old\n")

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(WriteFailed) as caught:
        write_atomic(fs, "/docker", b"new\n")

    assert target.read_bytes() == b"old\n"
    assert temp_files(root) == []
    assert "'/docker'" in caught.value.message
    assert caught.value.details["errno"] == "EIO"


def test_write_to_directory_fails(fs: RootFS, root: Path) -> None:
    (root / "etc/docker").mkdir(parents=True)
    with pytest.raises(WriteFailed) as caught:
        write_atomic(fs, "/etc/docker", b"x\n")
    assert caught.value.details["errno"] == "EISDIR"
    assert temp_files(root) == []


def test_write_under_file_fails(fs: RootFS, root: Path) -> None:
    (root / "etc").write_bytes(b"not a directory\n")
    with pytest.raises(WriteFailed) as caught:
        write_atomic(fs, "/etc/default/docker", b"x\n")
    assert caught.value.details["errno"] == "ENOTDIR"


def test_write_absolute_link_stays_in_root(fs: RootFS, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "etc").mkdir()
    # An absolute link, as in an image: /etc/docker -> <outside>. Inside the root it
    # means <root>/<outside>, never the machine's own <outside>.
    (root / "etc/docker").symlink_to(outside)

    write_atomic(fs, "/etc/docker/daemon.json", b"{}\n")

    assert list(outside.iterdir()) == []
    assert (root / str(outside).lstrip("/") / "daemon.json").read_bytes() == b"{}\n"


def test_write_dotdot_link_stays_in_root(fs: RootFS, root: Path, tmp_path: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/default").symlink_to("../../../../../../..")
    write_atomic(fs, "/etc/default/escape.conf", b"x\n")
    assert not (tmp_path / "escape.conf").exists()
    assert (root / "escape.conf").read_bytes() == b"x\n"


def test_write_through_final_link_keeps_link(fs: RootFS, root: Path) -> None:
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/docker-defaults").write_bytes(b"old\n")
    (root / "etc/default/docker").symlink_to("/etc/docker-defaults")

    write_atomic(fs, "/etc/default/docker", b"new\n")

    assert (root / "etc/default/docker").is_symlink()
    assert (root / "etc/docker-defaults").read_bytes() == b"new\n"


class UnresolvingRootFS(RootFS):
    """A RootFS whose resolution misses links, as when a link is swapped in after it ran.

    That race cannot be timed from a test, so the resolution is skipped instead.
    """

    def resolve(self, host_path: str) -> str:
        return host_path


def test_write_refuses_unresolved_link(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "etc").symlink_to(outside)

    with pytest.raises(WriteFailed) as caught:
        write_atomic(UnresolvingRootFS(root), "/etc/daemon.json", b"{}\n")

    assert list(outside.iterdir()) == []
    assert caught.value.details["link"] == "/etc"
    assert "symbolic link" in caught.value.message


def test_write_refuses_final_link_unresolved(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_bytes(b"host file\n")
    (root / "daemon.json").symlink_to(outside)

    with pytest.raises(WriteFailed):
        write_atomic(UnresolvingRootFS(root), "/daemon.json", b"{}\n")

    assert outside.read_bytes() == b"host file\n"
    assert (root / "daemon.json").is_symlink()


def test_remove_file_removes(fs: RootFS, root: Path) -> None:
    (root / "docker").write_bytes(b"x\n")
    remove_file(fs, "/docker")
    assert not (root / "docker").exists()


@pytest.mark.parametrize("path", ["/missing", "/missing-dir/missing"])
def test_remove_file_missing_is_noop(fs: RootFS, path: str) -> None:
    remove_file(fs, path)
    assert not fs.exists(path)


def test_remove_file_directory_fails(fs: RootFS, root: Path) -> None:
    (root / "docker.service.d").mkdir()
    with pytest.raises(WriteFailed) as caught:
        remove_file(fs, "/docker.service.d")
    assert caught.value.details["errno"] == "EISDIR"


def test_read_file_bytes_and_metadata(fs: RootFS, root: Path) -> None:
    (root / "docker").write_bytes(b"\xff\x00binary is fine\n")
    os.chown(root / "docker", 1234, 4321)
    os.chmod(root / "docker", 0o640)
    data, metadata = read_file(fs, "/docker")
    assert data == b"\xff\x00binary is fine\n"
    assert (metadata.mode, metadata.uid, metadata.gid) == (0o640, 1234, 4321)


def test_read_file_missing_is_none(fs: RootFS) -> None:
    assert read_file(fs, "/etc/default/docker") is None


def test_read_file_directory_fails(fs: RootFS, root: Path) -> None:
    (root / "etc").mkdir()
    with pytest.raises(SourceError):
        read_file(fs, "/etc")


def test_ensure_directory_mode(fs: RootFS, root: Path) -> None:
    ensure_directory(fs, "/var/lib/dhconf", mode=0o700)
    assert stat.S_IMODE((root / "var/lib/dhconf").stat().st_mode) == 0o700


def test_ensure_directory_keeps_existing_mode(fs: RootFS, root: Path) -> None:
    (root / "var").mkdir(mode=0o755)
    os.chmod(root / "var", 0o751)
    ensure_directory(fs, "/var/lib", mode=0o700)
    assert stat.S_IMODE((root / "var").stat().st_mode) == 0o751


def test_remove_tree_keeps_link_target(fs: RootFS, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"x")
    (root / "journal").mkdir()
    (root / "journal/link").symlink_to(outside)

    remove_tree(fs, "/journal")

    assert not (root / "journal").exists()
    assert (outside / "keep").exists()


def test_remove_temp_files_only_own(fs: RootFS, root: Path) -> None:
    (root / "docker").write_bytes(b"x")
    (root / f".docker.0123abcd{TEMP_SUFFIX}").write_bytes(b"partial")
    (root / f".other.0123abcd{TEMP_SUFFIX}").write_bytes(b"partial")

    removed = remove_temp_files(fs, "/docker")

    assert removed == [f"/.docker.0123abcd{TEMP_SUFFIX}"]
    assert (root / f".other.0123abcd{TEMP_SUFFIX}").exists()


def test_remove_empty_directory_only_empty(fs: RootFS, root: Path) -> None:
    (root / "empty").mkdir()
    (root / "full").mkdir()
    (root / "full/file").write_bytes(b"x")
    assert remove_empty_directory(fs, "/empty") is True
    assert remove_empty_directory(fs, "/full") is False
    assert (root / "full/file").exists()


def test_open_for_update_creates_file(fs: RootFS, root: Path) -> None:
    fd = open_for_update(fs, "/var/lib/dhconf/lock")
    try:
        os.write(fd, b"42\n")
    finally:
        os.close(fd)
    assert (root / "var/lib/dhconf/lock").read_bytes() == b"42\n"
