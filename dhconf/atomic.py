"""Atomic file operations inside a root tree.

A write goes to a temporary file in the target's directory, is flushed to disk
and renamed over the target, so a reader or a crash sees the old file or the
new one, never a mix. ``RootFS`` resolves symbolic links the way a process
chrooted into the root would. The directories on the resolved path are then
opened one by one relative to the previous one with ``O_NOFOLLOW``, so the
kernel follows no link of its own and a link swapped in after the resolution
cannot carry a write out of the root.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dhconf.errors import SourceError, WriteFailed
from dhconf.rootfs import RootFS

logger = logging.getLogger(__name__)

SELINUX_XATTR = "security.selinux"
NEW_FILE_MODE = 0o644
NEW_DIRECTORY_MODE = 0o755
TEMP_SUFFIX = ".dhconf-tmp"

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# ENODATA: the file has no label. ENOTSUP (= EOPNOTSUPP on Linux): the filesystem keeps none.
_NO_LABEL_ERRNOS = {errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP}

_ADVICE = {
    errno.ENOSPC: "Free space on the filesystem that holds it, then run the command again.",
    errno.EDQUOT: "Free space within the disk quota, then run the command again.",
    errno.EROFS: "Its filesystem is mounted read-only. Remount it read-write, then run the command again.",
    errno.EACCES: "Run dhconf as root, or check the permissions of the file and its directory.",
    errno.EPERM: "Run dhconf as root, or check the permissions and attributes of the file and its directory.",
    errno.ENOTDIR: "A component of the path is a file, not a directory. Check the path.",
    errno.EISDIR: "It is a directory. dhconf only writes regular files.",
    errno.ELOOP: "A symbolic link is in the way. Check the links on the path to it.",
}
_DEFAULT_ADVICE = "Check the path and its filesystem, then run the command again."


@dataclass(frozen=True)
class FileMetadata:
    """Permission bits, owner and SELinux label of a regular file."""

    mode: int
    uid: int
    gid: int
    selinux: bytes | None = None


def write_atomic(
    fs: RootFS,
    host_path: str,
    data: bytes,
    *,
    mode: int | None = None,
    metadata: FileMetadata | None = None,
) -> None:
    """Replace the file at ``host_path`` with ``data`` in one rename.

    The new file takes ``metadata`` when given (a restore), else the mode,
    owner and SELinux label of the file it replaces, else ``mode`` (default
    0644) and the user running dhconf as owner (root on a system run). Missing
    parent directories are created with mode 0755. Raises ``WriteFailed``
    with the old file left in place and no temporary file behind.
    """
    try:
        with _parent_directory(fs, host_path, create=True) as (dir_fd, name):
            written = _replace(dir_fd, name, data, mode=mode, metadata=metadata)
    except OSError as err:
        raise _write_failed("write", host_path, err) from err
    logger.debug(
        "Wrote %s (%d bytes, mode %04o, owner %d:%d)",
        host_path, len(data), written.mode, written.uid, written.gid,
    )


def remove_file(fs: RootFS, host_path: str) -> None:
    """Remove the file at ``host_path``. A missing file is not an error."""
    try:
        with _parent_directory(fs, host_path, create=False) as (dir_fd, name):
            existing = _stat_regular(dir_fd, name)
            if existing is None:
                return
            os.unlink(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
    except FileNotFoundError:
        return
    except OSError as err:
        raise _write_failed("remove", host_path, err) from err
    logger.debug("Removed %s", host_path)


def read_file(fs: RootFS, host_path: str) -> tuple[bytes, FileMetadata] | None:
    """Return a regular file's bytes and metadata, or None when it does not exist.

    Raises ``SourceError`` when it cannot be read or is not a regular file.
    """
    try:
        with _parent_directory(fs, host_path, create=False) as (dir_fd, name):
            if _stat_regular(dir_fd, name) is None:
                return None
            return _read_regular(dir_fd, name)
    except FileNotFoundError:
        return None
    except WriteFailed as err:
        raise SourceError(err.message, **err.details) from err
    except OSError as err:
        advice = _ADVICE.get(err.errno, _DEFAULT_ADVICE)
        raise SourceError(
            f"cannot read {host_path!r}: {err.strerror}. {advice}",
            path=host_path,
            errno=errno.errorcode.get(err.errno or 0, str(err.errno)),
        ) from err


def ensure_directory(fs: RootFS, host_path: str, *, mode: int = NEW_DIRECTORY_MODE) -> None:
    """Create ``host_path`` and its missing parents with ``mode``, leaving existing ones as they are."""
    try:
        fd = _open_directory(fs, fs.resolve(host_path), host_path, create_mode=mode)
    except SourceError as err:
        raise WriteFailed(err.message, **err.details) from err
    except OSError as err:
        raise _write_failed("create directory", host_path, err) from err
    os.close(fd)


def remove_tree(fs: RootFS, host_path: str) -> None:
    """Remove a directory and everything in it. Links inside are removed, not followed."""
    try:
        with _parent_directory(fs, host_path, create=False) as (dir_fd, name):
            shutil.rmtree(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
    except FileNotFoundError:
        return
    except OSError as err:
        raise _write_failed("remove", host_path, err) from err
    logger.debug("Removed directory %s", host_path)


def remove_empty_directory(fs: RootFS, host_path: str) -> bool:
    """Remove a directory if it is empty, and return whether it was removed."""
    try:
        with _parent_directory(fs, host_path, create=False) as (dir_fd, name):
            if _is_symlink(dir_fd, name):
                return False
            os.rmdir(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as err:
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise _write_failed("remove", host_path, err) from err
    logger.debug("Removed empty directory %s", host_path)
    return True


def open_for_update(fs: RootFS, host_path: str, *, mode: int = NEW_FILE_MODE) -> int:
    """Open a file for reading and writing, creating it with ``mode`` if missing, and return the fd."""
    try:
        with _parent_directory(fs, host_path, create=True) as (dir_fd, name):
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(name, flags, mode, dir_fd=dir_fd)
    except OSError as err:
        raise _write_failed("open", host_path, err) from err


def remove_temp_files(fs: RootFS, host_path: str) -> list[str]:
    """Remove the temporary files that a killed write left next to ``host_path`` and return their host paths."""
    removed: list[str] = []
    try:
        with _parent_directory(fs, host_path, create=False) as (dir_fd, name):
            prefix = f".{name}."
            for entry in sorted(os.listdir(dir_fd)):
                if entry.startswith(prefix) and entry.endswith(TEMP_SUFFIX):
                    os.unlink(entry, dir_fd=dir_fd)
                    removed.append(posixpath.join(posixpath.dirname(fs.resolve(host_path)), entry))
            if removed:
                os.fsync(dir_fd)
    except FileNotFoundError:
        return removed
    except OSError as err:
        raise _write_failed("remove temporary files of", host_path, err) from err
    for path in removed:
        logger.debug("Removed temporary file %s left by an interrupted write", path)
    return removed


@contextmanager
def _parent_directory(fs: RootFS, host_path: str, *, create: bool) -> Iterator[tuple[int, str]]:
    """Yield an fd of the directory that contains ``host_path``, and the file's name in it."""
    try:
        resolved = fs.resolve(host_path)
    except SourceError as err:
        raise WriteFailed(err.message, **err.details) from err
    parent, _, name = resolved.rpartition("/")
    if not name:
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), host_path)
    create_mode = NEW_DIRECTORY_MODE if create else None
    dir_fd = _open_directory(fs, parent or "/", host_path, create_mode=create_mode)
    try:
        yield dir_fd, name
    finally:
        os.close(dir_fd)


def _open_directory(fs: RootFS, resolved_dir: str, host_path: str, *, create_mode: int | None) -> int:
    """Open a resolved directory under the root without following any link.

    Missing directories are created with ``create_mode``, or raise
    FileNotFoundError when it is None.
    """
    # The root itself may be reached through links: it is the caller's choice.
    fd = os.open(fs.root, _DIRECTORY_FLAGS & ~os.O_NOFOLLOW)
    walked = ""
    try:
        for part in [piece for piece in resolved_dir.split("/") if piece]:
            walked = f"{walked}/{part}"
            child = _open_child_directory(fd, part, create_mode, host_path, walked)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_child_directory(
    dir_fd: int, name: str, create_mode: int | None, host_path: str, walked: str
) -> int:
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if create_mode is None:
            raise
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink(dir_fd, name):
            raise WriteFailed(
                f"cannot write {host_path!r}: {walked!r} is a symbolic link that appeared "
                "after dhconf resolved the path inside the root, so following it could "
                "leave the root. Check that link, then run the command again.",
                path=host_path,
                link=walked,
            ) from err
        raise

    try:
        os.mkdir(name, create_mode, dir_fd=dir_fd)
    except FileExistsError:
        pass  # Another process created it meanwhile. It is opened below with O_NOFOLLOW all the same.
    child = os.open(name, _DIRECTORY_FLAGS, dir_fd=dir_fd)
    # mkdir's mode passes through the umask.
    os.fchmod(child, create_mode)
    os.fsync(dir_fd)
    logger.debug("Created directory %s (mode %04o)", walked, create_mode)
    return child


def _is_symlink(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _replace(
    dir_fd: int, name: str, data: bytes, *, mode: int | None, metadata: FileMetadata | None
) -> FileMetadata:
    """Write ``data`` to a temporary file beside ``name`` and rename it over ``name``."""
    target_metadata = metadata or _metadata_of(dir_fd, name) or _new_file_metadata(mode)
    temp = f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600, dir_fd=dir_fd)
    try:
        try:
            _write_all(fd, data)
            _apply_metadata(fd, target_metadata)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _unlink_quietly(temp, dir_fd)
        raise
    os.fsync(dir_fd)
    return target_metadata


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _apply_metadata(fd: int, target: FileMetadata) -> None:
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) != (target.uid, target.gid):
        os.fchown(fd, target.uid, target.gid)
    # After fchown, because a change of owner clears the set-user-ID and set-group-ID bits.
    os.fchmod(fd, target.mode)
    if target.selinux is None:
        return
    try:
        os.setxattr(fd, SELINUX_XATTR, target.selinux)
    except OSError as err:
        if err.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        logger.debug("Skipped the SELinux label: the filesystem does not store %s", SELINUX_XATTR)


def _new_file_metadata(mode: int | None) -> FileMetadata:
    file_mode = NEW_FILE_MODE if mode is None else stat.S_IMODE(mode)
    if os.geteuid() == 0:
        # root:root even in a set-group-ID directory, whose group a new file would inherit.
        return FileMetadata(mode=file_mode, uid=0, gid=0)
    return FileMetadata(mode=file_mode, uid=os.geteuid(), gid=os.getegid())


def _stat_regular(dir_fd: int, name: str) -> os.stat_result | None:
    """Return the stat of the regular file ``name``, or None when it is missing."""
    try:
        result = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(result.st_mode):
        return result
    if stat.S_ISDIR(result.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
    if stat.S_ISLNK(result.st_mode):
        # RootFS resolved every link, so one here was put in place meanwhile.
        raise OSError(errno.ELOOP, "it became a symbolic link while dhconf was writing", name)
    raise OSError(errno.EINVAL, "not a regular file", name)


def _metadata_of(dir_fd: int, name: str) -> FileMetadata | None:
    result = _stat_regular(dir_fd, name)
    if result is None:
        return None
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        label = _read_label(fd)
    finally:
        os.close(fd)
    return FileMetadata(stat.S_IMODE(result.st_mode), result.st_uid, result.st_gid, label)


def _read_regular(dir_fd: int, name: str) -> tuple[bytes, FileMetadata]:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        result = os.fstat(fd)
        if not stat.S_ISREG(result.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        label = _read_label(fd)
    finally:
        os.close(fd)
    metadata = FileMetadata(stat.S_IMODE(result.st_mode), result.st_uid, result.st_gid, label)
    return b"".join(chunks), metadata


def _read_label(fd: int) -> bytes | None:
    try:
        return os.getxattr(fd, SELINUX_XATTR)
    except OSError as err:
        if err.errno in _NO_LABEL_ERRNOS:
            return None
        raise


def _unlink_quietly(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError as err:
        # The write error that got us here is the one to report.
        logger.warning("Could not remove the temporary file %s: %s", name, err.strerror)


def _write_failed(verb: str, host_path: str, err: OSError) -> WriteFailed:
    advice = _ADVICE.get(err.errno or 0, _DEFAULT_ADVICE)
    return WriteFailed(
        f"cannot {verb} {host_path!r}: {err.strerror}. {advice}",
        path=host_path,
        errno=errno.errorcode.get(err.errno or 0, str(err.errno)),
    )
