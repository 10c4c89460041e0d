"""Faults produced for real: a full disk, a read-only mount, no permission, a held lock, SIGKILL.

Each fault runs a driver script in a child process, inside a private mount
namespace where it needs a mount, so the machine's own mounts never change.
After each fault every target must hold its old or its new content, never a
part of either.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dhconf.apply import FileChange, Lock, apply_changes, recover, unfinished_journal
from dhconf.atomic import TEMP_SUFFIX
from dhconf.errors import LockHeld
from dhconf.journal import MANIFEST, ROLLED_BACK, list_journals
from dhconf.rootfs import RootFS

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534

DEFAULT = "/etc/default/docker"
DAEMON_JSON = "/etc/docker/daemon.json"
DROP_IN = "/etc/systemd/system/docker.service.d/dhconf.conf"

OLD_DEFAULT = 'DOCKER_OPTS="-H tcp://127.0.0.1:2375"\n'
OLD_DAEMON_JSON = '{"hosts": ["unix:///var/run/docker.sock"]}\n'
NEW_DEFAULT = 'DOCKER_OPTS="-H unix:///var/run/docker.sock"\n'
NEW_DROP_IN = "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd://\n"
NEW_DAEMON_JSON = '{"hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2376"]}\n'

# Sets up the tree (inside the namespace, where the test's mounts are), replaces
# os.replace by one that counts its calls and can SIGKILL the process, applies
# the changes, and prints the resulting files and journal states as JSON.
DRIVER = r"""
import json, os, signal, sys

spec = json.loads(sys.argv[1])
root = spec["root"]
for path, text in spec.get("setup", {}).items():
    local = root + path
    os.makedirs(os.path.dirname(local), exist_ok=True)
    with open(local, "w") as handle:
        handle.write(text)

calls = 0
real_replace = os.replace

def counting_replace(src, dst, **kwargs):
    global calls
    calls += 1
    if spec.get("trace"):
        with open(spec["trace"], "a") as handle:
            handle.write(str(dst) + "\n")
    if calls == spec.get("kill_at"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, **kwargs)

os.replace = counting_replace

from dhconf.apply import FileChange, Lock, apply_changes, commit
from dhconf.errors import DhconfError
from dhconf.journal import list_journals
from dhconf.rootfs import RootFS

fs = RootFS(root)
changes = [
    FileChange(c["path"], c["action"], None if c["content"] is None else c["content"].encode())
    for c in spec["changes"]
]
result = {"error": None}
try:
    if spec.get("lock"):
        with Lock(fs, timeout=0):
            pass
    journal = apply_changes(fs, changes, command="fault test")
    if spec.get("commit"):
        commit(fs, journal)
except DhconfError as err:
    result["error"] = {"type": type(err).__name__, "message": err.message, "details": err.details}

result["files"] = {}
for change in spec["changes"]:
    try:
        with open(root + change["path"]) as handle:
            result["files"][change["path"]] = handle.read()
    except FileNotFoundError:
        result["files"][change["path"]] = None
result["temp_files"] = sorted(
    os.path.join(directory, name)
    for directory, _, names in os.walk(root)
    for name in names
    if name.endswith(".dhconf-tmp")
)
result["journals"] = [journal.state for journal in list_journals(fs)]
print(json.dumps(result))
"""

LOCK_HOLDER = r"""
import sys
from dhconf.apply import Lock
from dhconf.rootfs import RootFS

with Lock(RootFS(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""

TMPFS_64K = 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"'
READ_ONLY_BIND = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
UNPRIVILEGED = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def in_namespace(script: str, path: Path) -> list[str]:
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(path)]


def change(path: str, action: str, content: str | None) -> dict[str, str | None]:
    return {"path": path, "action": action, "content": content}


def run_driver(spec: dict, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*(prefix or []), sys.executable, "-c", DRIVER, json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def driver_result(spec: dict, prefix: list[str] | None = None) -> dict:
    proc = run_driver(spec, prefix)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def put(root: Path, host_path: str, text: str) -> Path:
    path = root / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def read(root: Path, host_path: str) -> str | None:
    path = root / host_path.lstrip("/")
    return path.read_text() if path.exists() else None


@pytest.fixture(scope="module")
def mount_namespace() -> None:
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot create a private mount namespace: {probe.stderr.strip()}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "root"
    tree.mkdir()
    return tree


@pytest.fixture
def world_root() -> Iterator[Path]:
    """A root tree that an unprivileged user can reach (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    base = Path(tempfile.mkdtemp(prefix="dhconf-perm-"))
    base.chmod(0o755)
    tree = base / "root"
    tree.mkdir(mode=0o755)
    yield tree
    shutil.rmtree(base)


# --- disk full ---------------------------------------------------------------


def test_disk_full_keeps_old_file(tmp_path: Path, mount_namespace: None) -> None:
    root = tmp_path / "tiny"
    root.mkdir()
    spec = {
        "root": str(root),
        "setup": {DEFAULT: OLD_DEFAULT},
        "changes": [change(DEFAULT, "update", "#" * 100_000 + "\n")],
    }

    result = driver_result(spec, in_namespace(TMPFS_64K, root))

    assert result["error"]["type"] == "WriteFailed"
    assert result["error"]["details"]["errno"] == "ENOSPC"
    assert "No space left on device" in result["error"]["message"]
    assert "Free space" in result["error"]["message"]
    assert f"'{DEFAULT}'" in result["error"]["message"]
    assert result["files"][DEFAULT] == OLD_DEFAULT
    assert result["temp_files"] == []
    assert result["journals"] == [ROLLED_BACK]


def test_disk_full_restores_earlier_writes(tmp_path: Path, mount_namespace: None) -> None:
    root = tmp_path / "tiny"
    root.mkdir()
    spec = {
        "root": str(root),
        "setup": {DAEMON_JSON: OLD_DAEMON_JSON},
        "changes": [
            change(DROP_IN, "create", NEW_DROP_IN),
            change(DAEMON_JSON, "update", "#" * 100_000 + "\n"),
        ],
    }

    result = driver_result(spec, in_namespace(TMPFS_64K, root))

    assert result["error"]["type"] == "WriteFailed"
    assert result["error"]["details"]["path"] == DAEMON_JSON
    assert result["error"]["details"]["restored"] == [DROP_IN]
    assert result["files"] == {DROP_IN: None, DAEMON_JSON: OLD_DAEMON_JSON}
    assert result["temp_files"] == []
    assert result["journals"] == [ROLLED_BACK]


def test_disk_full_during_backup(tmp_path: Path, mount_namespace: None) -> None:
    root = tmp_path / "tiny"
    root.mkdir()
    # 40 KiB of old content leaves no room on 64 KiB for its copy in the journal.
    old = "#" * 40_000 + "\n"
    spec = {"root": str(root), "setup": {DEFAULT: old}, "changes": [change(DEFAULT, "update", NEW_DEFAULT)]}

    result = driver_result(spec, in_namespace(TMPFS_64K, root))

    assert result["error"]["type"] == "WriteFailed"
    assert result["error"]["details"]["errno"] == "ENOSPC"
    assert result["error"]["details"]["path"].startswith("/var/lib/dhconf/journal/")
    assert result["files"][DEFAULT] == old
    assert result["journals"] == []
    assert result["temp_files"] == []


# --- read-only target --------------------------------------------------------


def test_read_only_target(root: Path, mount_namespace: None) -> None:
    put(root, DAEMON_JSON, OLD_DAEMON_JSON)
    spec = {
        "root": str(root),
        "changes": [change(DROP_IN, "create", NEW_DROP_IN), change(DAEMON_JSON, "update", NEW_DAEMON_JSON)],
    }

    result = driver_result(spec, in_namespace(READ_ONLY_BIND, root / "etc/docker"))

    assert result["error"]["type"] == "WriteFailed"
    assert result["error"]["details"]["errno"] == "EROFS"
    assert "read-only" in result["error"]["message"]
    assert "Remount" in result["error"]["message"]
    assert result["files"] == {DROP_IN: None, DAEMON_JSON: OLD_DAEMON_JSON}
    assert result["journals"] == [ROLLED_BACK]


def test_read_only_target_unchanged_outside(root: Path, mount_namespace: None) -> None:
    put(root, DAEMON_JSON, OLD_DAEMON_JSON)
    spec = {"root": str(root), "changes": [change(DAEMON_JSON, "delete", None)]}

    result = driver_result(spec, in_namespace(READ_ONLY_BIND, root / "etc/docker"))

    assert result["error"]["details"]["errno"] == "EROFS"
    assert read(root, DAEMON_JSON) == OLD_DAEMON_JSON


# --- permission denied -------------------------------------------------------


def test_permission_denied_root_owned_tree(world_root: Path) -> None:
    put(world_root, DEFAULT, OLD_DEFAULT)
    spec = {"root": str(world_root), "changes": [change(DEFAULT, "update", NEW_DEFAULT)]}

    result = driver_result(spec, UNPRIVILEGED)

    assert result["error"]["type"] == "WriteFailed"
    assert result["error"]["details"]["errno"] == "EACCES"
    assert "Run dhconf as root" in result["error"]["message"]
    assert read(world_root, DEFAULT) == OLD_DEFAULT
    assert not (world_root / "var").exists()


def test_permission_denied_lock(world_root: Path) -> None:
    spec = {"root": str(world_root), "lock": True, "changes": []}

    result = driver_result(spec, UNPRIVILEGED)

    assert result["error"]["type"] == "WriteFailed"
    assert result["error"]["details"]["path"] == "/var/lib/dhconf/lock"
    assert "Run dhconf as root" in result["error"]["message"]


def test_permission_denied_second_file(world_root: Path) -> None:
    # The journal and /etc/default belong to the unprivileged user; /etc/docker to root.
    for directory in ("var/lib/dhconf", "etc/default"):
        (world_root / directory).mkdir(parents=True)
        os.chown(world_root / directory, NOBODY, NOBODY)
    os.chown(put(world_root, DEFAULT, OLD_DEFAULT), NOBODY, NOBODY)
    put(world_root, DAEMON_JSON, OLD_DAEMON_JSON)
    spec = {
        "root": str(world_root),
        "changes": [change(DEFAULT, "update", NEW_DEFAULT), change(DAEMON_JSON, "update", NEW_DAEMON_JSON)],
    }

    result = driver_result(spec, UNPRIVILEGED)

    assert result["error"]["type"] == "WriteFailed"
    assert result["error"]["details"]["path"] == DAEMON_JSON
    assert result["error"]["details"]["errno"] == "EACCES"
    assert result["error"]["details"]["restored"] == [DEFAULT]
    assert read(world_root, DEFAULT) == OLD_DEFAULT
    assert read(world_root, DAEMON_JSON) == OLD_DAEMON_JSON
    assert result["journals"] == [ROLLED_BACK]


def test_permission_denied_owner_not_kept(world_root: Path) -> None:
    # The directory is writable, but the file is root's: its owner cannot be kept, so no write.
    (world_root / "etc/default").mkdir(parents=True)
    os.chown(world_root / "etc/default", NOBODY, NOBODY)
    (world_root / "var/lib/dhconf").mkdir(parents=True)
    os.chown(world_root / "var/lib/dhconf", NOBODY, NOBODY)
    put(world_root, DEFAULT, OLD_DEFAULT)
    spec = {"root": str(world_root), "changes": [change(DEFAULT, "update", NEW_DEFAULT)]}

    result = driver_result(spec, UNPRIVILEGED)

    assert result["error"]["details"]["errno"] == "EPERM"
    assert read(world_root, DEFAULT) == OLD_DEFAULT
    assert (world_root / DEFAULT.lstrip("/")).stat().st_uid == 0
    assert result["temp_files"] == []


# --- lock held by another process --------------------------------------------


@pytest.fixture
def lock_holder(root: Path) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout.readline() == "locked\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_lock_held_names_pid(root: Path, lock_holder: subprocess.Popen[str]) -> None:
    with pytest.raises(LockHeld) as caught:
        Lock(RootFS(root), timeout=0.3).acquire()
    assert caught.value.details["pid"] == lock_holder.pid
    assert f"pid {lock_holder.pid}" in caught.value.message


def test_lock_held_waits_for_timeout(root: Path, lock_holder: subprocess.Popen[str]) -> None:
    started = time.monotonic()
    with pytest.raises(LockHeld):
        Lock(RootFS(root), timeout=0.3).acquire()
    assert time.monotonic() - started >= 0.3


def test_lock_free_after_holder_exits(root: Path, lock_holder: subprocess.Popen[str]) -> None:
    lock_holder.stdin.close()
    lock_holder.wait(timeout=10)
    with Lock(RootFS(root), timeout=0):
        assert read(root, "/var/lib/dhconf/lock") == f"{os.getpid()}\n"


def test_lock_free_after_holder_killed(root: Path, lock_holder: subprocess.Popen[str]) -> None:
    lock_holder.kill()
    lock_holder.wait(timeout=10)
    with Lock(RootFS(root), timeout=0):
        assert read(root, "/var/lib/dhconf/lock") == f"{os.getpid()}\n"


def test_lock_acquired_while_holder_releases(root: Path, lock_holder: subprocess.Popen[str]) -> None:
    lock = Lock(RootFS(root), timeout=10)
    lock_holder.stdin.close()
    with lock:
        assert lock_holder.wait(timeout=10) == 0


# --- SIGKILL at every rename -------------------------------------------------

OLD = {DEFAULT: OLD_DEFAULT, DROP_IN: None, DAEMON_JSON: OLD_DAEMON_JSON}
NEW = {DEFAULT: NEW_DEFAULT, DROP_IN: NEW_DROP_IN, DAEMON_JSON: None}
KILL_CHANGES = [
    change(DEFAULT, "update", NEW_DEFAULT),
    change(DROP_IN, "create", NEW_DROP_IN),
    change(DAEMON_JSON, "delete", None),
]


def kill_spec(root: Path, kill_at: int, trace: Path | None = None) -> dict:
    spec = {
        "root": str(root),
        "setup": {DEFAULT: OLD_DEFAULT, DAEMON_JSON: OLD_DAEMON_JSON},
        "changes": KILL_CHANGES,
        "commit": True,
        "kill_at": kill_at,
    }
    if trace is not None:
        spec["trace"] = str(trace)
    return spec


def renames_of_full_run(tmp_path: Path) -> list[str]:
    """Return the destination of every os.replace call that a run without faults makes."""
    trace = tmp_path / "trace"
    result = driver_result(kill_spec(tmp_path / "traced", 0, trace))
    assert result["error"] is None
    return trace.read_text().splitlines()


def test_renames_journal_before_targets(tmp_path: Path) -> None:
    renames = renames_of_full_run(tmp_path)
    first_target = min(renames.index(name) for name in ("docker", "dhconf.conf"))
    assert renames.index(MANIFEST) < first_target


def test_kill_at_every_rename(tmp_path: Path) -> None:
    renames = renames_of_full_run(tmp_path)
    journal_recorded_at = renames.index(MANIFEST) + 1

    for kill_at in range(1, len(renames) + 1):
        root = tmp_path / f"kill-{kill_at}"
        proc = run_driver(kill_spec(root, kill_at))
        assert proc.returncode == -9, f"rename {kill_at} ({renames[kill_at - 1]}): {proc.stderr}"
        where = f"killed before rename {kill_at} of {len(renames)} ({renames[kill_at - 1]})"

        for path in OLD:
            assert read(root, path) in (OLD[path], NEW[path]), where

        fs = RootFS(root)
        if kill_at <= journal_recorded_at:
            # Killed before the journal was on disk: no target may have changed.
            assert unfinished_journal(fs) is None, where
            assert {path: read(root, path) for path in OLD} == OLD, where
            continue

        assert unfinished_journal(fs) is not None, where
        report = recover(fs)
        assert report is not None, where
        assert {path: read(root, path) for path in OLD} == OLD, where
        assert not (root / "etc/systemd").exists(), where
        assert [path for path in root.rglob("*") if path.name.endswith(TEMP_SUFFIX)] == [], where
        assert unfinished_journal(fs) is None, where


def test_kill_before_journal_next_run_works(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = run_driver(kill_spec(root, 1))
    assert proc.returncode == -9, proc.stderr
    fs = RootFS(root)

    apply_changes(fs, [FileChange(DEFAULT, "update", NEW_DEFAULT.encode())], command="next run")

    assert [journal.command for journal in list_journals(fs)] == ["next run"]
    assert len(list((root / "var/lib/dhconf/journal").iterdir())) == 1


def test_kill_after_commit_nothing_to_recover(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = driver_result(kill_spec(root, 0))
    assert result["error"] is None
    assert recover(RootFS(root)) is None
    assert {path: read(root, path) for path in NEW} == NEW
