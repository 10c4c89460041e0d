"""Access to a host tree mounted at a root directory (``--root``).

Paths that dhconf reports are paths on the target host (``/etc/default/docker``);
``RootFS`` maps them under the root. Symbolic links are followed the way a
process chrooted into the root would see them: an absolute target starts again
at the root, and ``..`` never climbs above it. So a tree taken from an image can
hold absolute links without sending reads or writes to the machine's own files.
"""

from __future__ import annotations

import errno
import os
import posixpath
from pathlib import Path

from dhconf.errors import SourceError

_MAX_SYMLINK_HOPS = 40  # Linux's own limit (MAXSYMLINKS) for one lookup.


class RootFS:
    """A host tree whose ``/`` is ``root`` on this machine."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(os.path.abspath(root))

    @property
    def is_live(self) -> bool:
        """Whether the tree is this machine's own root, where services may be restarted."""
        return self.root == Path("/")

    def path(self, host_path: str) -> Path:
        """Map a host path to a path on this machine, resolving links inside the root."""
        return self.root / self.resolve(host_path).lstrip("/")

    def resolve(self, host_path: str) -> str:
        """Resolve the links in ``host_path`` as seen from inside the root.

        Returns the host path with every link replaced by its target; the last
        component may be missing. Raises ``SourceError`` for a link loop.
        """
        if not host_path.startswith("/"):
            raise ValueError(f"host path must be absolute: {host_path!r}")
        pending = [part for part in host_path.split("/") if part]
        resolved = "/"
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                resolved = posixpath.dirname(resolved)
                continue
            candidate = posixpath.join(resolved, part)
            local = self.root / candidate.lstrip("/")
            if not local.is_symlink():
                resolved = candidate
                continue
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                raise SourceError(
                    f"too many levels of symbolic links in {host_path}", path=host_path
                )
            target = os.readlink(local)
            if target.startswith("/"):
                resolved = "/"
            pending[:0] = [piece for piece in target.split("/") if piece]
        return resolved

    def exists(self, host_path: str) -> bool:
        return self.path(host_path).exists()

    def is_dir(self, host_path: str) -> bool:
        return self.path(host_path).is_dir()

    def is_file(self, host_path: str) -> bool:
        return self.path(host_path).is_file()

    def listdir(self, host_path: str) -> list[str]:
        """Return the sorted entry names of a directory, or [] when it is missing."""
        try:
            return sorted(os.listdir(self.path(host_path)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as err:
            raise SourceError(
                f"cannot list {host_path}: {err.strerror}", path=host_path
            ) from err

    def read_bytes(self, host_path: str) -> bytes | None:
        """Return a file's bytes, or None when it does not exist."""
        try:
            return self.path(host_path).read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError as err:
            raise SourceError(f"{host_path} is a directory, not a file", path=host_path) from err
        except OSError as err:
            if err.errno == errno.ENOTDIR:
                return None
            raise SourceError(
                f"cannot read {host_path}: {err.strerror}; run as root or check its permissions",
                path=host_path,
            ) from err

    def read_text(self, host_path: str) -> str | None:
        """Return a text file's content, or None when it does not exist.

        Raises ``SourceError`` for a file that is binary (contains NUL) or not UTF-8.
        """
        data = self.read_bytes(host_path)
        if data is None:
            return None
        if b"\0" in data:
            raise SourceError(
                f"{host_path} is a binary file (it contains NUL bytes), not a text configuration file",
                path=host_path,
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SourceError(
                f"{host_path} is not valid UTF-8 (byte offset {err.start})", path=host_path
            ) from err
