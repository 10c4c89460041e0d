"""Unit search paths, and the lookup of a unit file and its drop-ins in them.

The search paths follow src/basic/path-lookup.c and the drop-in rules follow
src/shared/dropin.c. Both were checked against a systemd 252 user manager,
with ``systemd-analyze --user unit-paths`` and the ``DropInPaths`` property.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dhconf.errors import InvalidInput
from dhconf.rootfs import RootFS

# The system manager's search path, highest priority first (systemd.unit(5)).
# NOTE: Debian's systemd 252 searches /lib before /usr/lib. The two are one
# directory on merged-/usr systems, so the order matters only on older layouts.
SYSTEM_UNIT_PATH = (
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
)


def unit_search_paths(scope: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the directories systemd searches for units, highest priority first.

    ``scope`` is "system" or "user". The user list is systemd 252's "User Unit
    Search Path" (systemd.unit(5)) in the order that ``systemd-analyze --user
    unit-paths`` prints. The ``$XDG_RUNTIME_DIR`` entries are left out when it
    is unset, an unset or empty ``XDG_*`` variable takes its XDG default, and
    relative entries are skipped.
    """
    if scope == "system":
        return list(SYSTEM_UNIT_PATH)
    if scope != "user":
        raise InvalidInput(f"invalid scope {scope!r}: use 'system' or 'user'", scope=scope)
    env = os.environ if environ is None else environ
    config_home = _xdg_home(env, "XDG_CONFIG_HOME", ".config")
    data_home = _xdg_home(env, "XDG_DATA_HOME", ".local/share")
    runtime = env.get("XDG_RUNTIME_DIR", "")
    runtime = runtime if runtime.startswith("/") else None
    config_dirs = _xdg_dirs(env, "XDG_CONFIG_DIRS", "/etc/xdg")
    data_dirs = _xdg_dirs(env, "XDG_DATA_DIRS", "/usr/local/share:/usr/share")

    def in_runtime(suffix: str) -> list[str]:
        return [f"{runtime}/systemd/{suffix}"] if runtime else []

    paths = [
        f"{config_home}/systemd/user.control",
        *in_runtime("user.control"),
        *in_runtime("transient"),
        *in_runtime("generator.early"),
        f"{config_home}/systemd/user",
        *(f"{directory}/systemd/user" for directory in config_dirs),
        "/etc/systemd/user",
        *in_runtime("user"),
        "/run/systemd/user",
        *in_runtime("generator"),
        f"{data_home}/systemd/user",
        *(f"{directory}/systemd/user" for directory in data_dirs),
        "/usr/local/lib/systemd/user",
        "/usr/local/share/systemd/user",
        "/usr/lib/systemd/user",
        "/usr/share/systemd/user",
        *in_runtime("generator.late"),
    ]
    return list(dict.fromkeys(path.replace("//", "/") for path in paths))


def find_fragment(fs: RootFS, name: str, search: list[str]) -> str | None:
    for directory in search:
        candidate = f"{directory}/{name}"
        if fs.resolve(candidate) == "/dev/null" or fs.is_file(candidate):
            return candidate
    return None


def is_masked(fs: RootFS, path: str) -> bool:
    # systemd masks a unit whose file is /dev/null or an empty file (null_or_empty()).
    return fs.resolve(path) == "/dev/null" or fs.path(path).stat().st_size == 0


def find_dropins(fs: RootFS, name: str, search: list[str]) -> tuple[list[str], list[str]]:
    """Return the drop-ins of ``name`` in the order systemd applies them, and the masked ones.

    The directories are ``NAME.d`` and then its dash prefixes
    (``foo-.service.d``) in every search directory, followed by the type
    directory (``service.d``) in every search directory. For each file name the
    first directory that contains it wins, and the winners apply in file-name order.
    """
    unit_type = name.rpartition(".")[2]
    directories = [f"{d}/{n}.d" for d in search for n in [name, *_dash_prefixes(name)]]
    directories += [f"{d}/{unit_type}.d" for d in search]
    chosen: dict[str, str] = {}
    for directory in directories:
        for entry in fs.listdir(directory):
            if entry.startswith(".") or not entry.endswith(".conf") or entry in chosen:
                continue
            path = f"{directory}/{entry}"
            if fs.resolve(path) == "/dev/null" or fs.is_file(path):
                chosen[entry] = path
    ordered = [chosen[entry] for entry in sorted(chosen)]
    masked = [path for path in ordered if fs.resolve(path) == "/dev/null"]
    return [path for path in ordered if path not in masked], masked


def _dash_prefixes(name: str) -> list[str]:
    """Return the dash prefixes of a unit name (systemd 239 and later).

    ``foo-bar-baz.service`` has ``foo-bar-.service`` and ``foo-.service``. Each
    step cuts the name after its last dash, after cutting a trailing dash once.
    """
    stem, _, suffix = name.rpartition(".")
    prefixes: list[str] = []
    while True:
        chopped = False
        while True:
            dash = stem.rfind("-")
            if dash <= 0:
                return prefixes
            if dash + 1 < len(stem) or chopped:
                stem = stem[: dash + 1]
                break
            stem, chopped = stem[:dash], True
        prefixes.append(f"{stem}.{suffix}")


def _xdg_home(env: Mapping[str, str], variable: str, default: str) -> str:
    value = env.get(variable, "")
    if value.startswith("/"):
        return value.rstrip("/") or "/"
    home = env.get("HOME", "")
    if not home.startswith("/"):
        raise InvalidInput(
            f"cannot find the user unit directories: {variable} and HOME are missing or not "
            "absolute. Set HOME to the user's home directory",
            variable=variable,
        )
    return f"{home.rstrip('/')}/{default}"


def _xdg_dirs(env: Mapping[str, str], variable: str, default: str) -> list[str]:
    value = env.get(variable) or default
    return [entry.rstrip("/") or "/" for entry in value.split(":") if entry.startswith("/")]
