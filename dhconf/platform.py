"""The platform: distribution family, init system and how docker is installed.

Families are data. Each entry names the os-release IDs it covers and the
files its packages use. The first family that matches the os-release ``ID``,
then each ``ID_LIKE`` word in order, wins. The init system is read from the
running system (or the ``--root`` tree), never guessed from the family.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from dhconf.rootfs import RootFS


@dataclass(frozen=True)
class Family:
    """The files one distribution family ships for docker.

    ``options_file`` is the shell variable file that its SysV, upstart or
    OpenRC scripts source (``/etc/default/docker`` on Debian), and
    ``options_variable`` the variable those scripts pass to dockerd.
    ``systemd_variable`` is the variable that the family's own systemd unit
    expands, when its packages ship such a unit.
    """

    name: str
    ids: tuple[str, ...]
    options_file: str | None
    options_variable: str | None
    systemd_variable: str | None = None


FAMILIES: tuple[Family, ...] = (
    # Debian's docker.io: /etc/init.d/docker and /etc/default/docker (DOCKER_OPTS);
    # its systemd unit loads the same file and expands $DOCKER_OPTS.
    Family(
        "debian",
        ("debian", "ubuntu", "raspbian", "linuxmint", "pop", "elementary", "kali", "devuan"),
        "/etc/default/docker",
        "DOCKER_OPTS",
        "DOCKER_OPTS",
    ),
    # Red Hat's docker package: /etc/sysconfig/docker with OPTIONS for systemd
    # and other_args for the SysV script (moby contrib/init/sysvinit-redhat).
    Family(
        "redhat",
        ("rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn", "scientific", "cloudlinux"),
        "/etc/sysconfig/docker",
        "other_args",
        "OPTIONS",
    ),
    # openSUSE and SLES: /etc/sysconfig/docker with DOCKER_OPTS, expanded by their unit.
    Family(
        "suse",
        ("opensuse", "opensuse-leap", "opensuse-tumbleweed", "sles", "sled", "suse"),
        "/etc/sysconfig/docker",
        "DOCKER_OPTS",
        "DOCKER_OPTS",
    ),
    # OpenRC: /etc/conf.d/docker with DOCKER_OPTS.
    Family("alpine", ("alpine",), "/etc/conf.d/docker", "DOCKER_OPTS"),
    Family("gentoo", ("gentoo",), "/etc/conf.d/docker", "DOCKER_OPTS"),
    # Arch ships the upstream unit only.
    Family("arch", ("arch", "manjaro", "endeavouros", "artix"), None, None),
)

GENERIC = Family("generic", (), None, None)

INIT_SYSTEMD = "systemd"
INIT_UPSTART = "upstart"
INIT_SYSVINIT = "sysvinit"
INIT_OPENRC = "openrc"
INIT_UNKNOWN = "unknown"

_OPENRC_SHEBANG = re.compile(r"^#!\s*/sbin/(openrc-run|runscript)\b")


@dataclass(frozen=True)
class Platform:
    id: str
    id_like: tuple[str, ...]
    version_id: str
    family: Family
    init: str
    install: str
    evidence: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "id_like": list(self.id_like),
            "version_id": self.version_id,
            "family": self.family.name,
            "init": self.init,
            "install": self.install,
            "evidence": dict(self.evidence),
        }


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5): shell-style ``KEY=value`` lines, comments ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw, comments=False, posix=True)
        except ValueError:
            continue
        values[key.strip()] = " ".join(words)
    return values


_REDHAT_RELEASE = re.compile(
    r"^(?P<name>.+?) (?:Linux )?(?:Server )?release (?P<version>[\d.]+)", re.IGNORECASE
)
_REDHAT_NAMES = {
    "centos": "centos",
    "red hat enterprise": "rhel",
    "fedora": "fedora",
    "rocky": "rocky",
    "almalinux": "almalinux",
    "oracle": "ol",
    "scientific": "scientific",
    "cloudlinux": "cloudlinux",
}


def parse_redhat_release(text: str) -> dict[str, str]:
    """Read ``/etc/redhat-release`` (``CentOS Linux release 7.9.2009 (Core)``) as os-release keys."""
    match = _REDHAT_RELEASE.match(text.strip())
    if not match:
        return {"ID": "rhel", "ID_LIKE": "fedora"}
    name = match.group("name").lower()
    os_id = next((value for key, value in _REDHAT_NAMES.items() if name.startswith(key)), "rhel")
    return {"ID": os_id, "ID_LIKE": "rhel fedora", "VERSION_ID": match.group("version")}


def read_os_release(fs: RootFS) -> tuple[dict[str, str], str | None]:
    """Return the os-release keys and the file they came from (None when no file was found)."""
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = fs.read_text(path)
        if text is not None:
            return parse_os_release(text), path
    text = fs.read_text("/etc/redhat-release")
    if text is not None:
        return parse_redhat_release(text), "/etc/redhat-release"
    return {}, None


def find_family(os_id: str, id_like: tuple[str, ...]) -> Family:
    for candidate in (os_id, *id_like):
        for family in FAMILIES:
            if candidate in family.ids:
                return family
    return GENERIC


def detect_init(
    fs: RootFS, service: str, *, scope: str = "system", environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """Return the init system that starts ``service`` and the evidence for it.

    systemd counts only while it runs (``/run/systemd/system`` is a directory,
    as sd_booted(3) checks, or for ``--scope user`` on this machine the user
    manager's ``$XDG_RUNTIME_DIR/systemd/private`` socket exists). Without it,
    OpenRC is detected by ``/run/openrc`` or an OpenRC script, upstart by its
    job file and ``initctl``, and SysV by an init script.
    """
    environ = os.environ if environ is None else environ
    runtime_dir = environ.get("XDG_RUNTIME_DIR")
    if scope == "user" and fs.is_live and runtime_dir and os.path.exists(
        os.path.join(runtime_dir, "systemd", "private")
    ):
        return INIT_SYSTEMD, f"{runtime_dir}/systemd/private exists: a systemd user manager runs"
    if fs.is_dir("/run/systemd/system"):
        return INIT_SYSTEMD, "/run/systemd/system is a directory: systemd is running"
    script = f"/etc/init.d/{service}"
    script_text = _read_head(fs, script)
    if fs.is_dir("/run/openrc"):
        return INIT_OPENRC, "/run/openrc is a directory: OpenRC is running"
    if script_text is not None and _OPENRC_SHEBANG.match(script_text):
        return INIT_OPENRC, f"{script} is an OpenRC script"
    job = f"/etc/init/{service}.conf"
    if fs.is_file(job) and fs.exists("/sbin/initctl"):
        return INIT_UPSTART, f"{job} and /sbin/initctl exist"
    if script_text is not None:
        return INIT_SYSVINIT, f"{script} exists and systemd is not running"
    return INIT_UNKNOWN, "no running systemd, and no init script or job for the service"


def _read_head(fs: RootFS, path: str) -> str | None:
    data = fs.read_bytes(path) if fs.is_file(path) else None
    if data is None:
        return None
    return data[:256].decode("utf-8", errors="replace")


def find_service_name(fs: RootFS, requested: str | None) -> str:
    """Return the service name without a unit suffix (``docker``, or ``docker.io`` on Ubuntu 14.04)."""
    if requested:
        return requested.removesuffix(".service")
    for name in ("docker", "docker.io"):
        if fs.is_file(f"/etc/init/{name}.conf") or fs.is_file(f"/etc/init.d/{name}"):
            return name
    return "docker"


def detect_install(fs: RootFS, *, scope: str = "system") -> tuple[str, str]:
    """Return how docker is installed and the evidence: snap, rootless, docker-ce, distribution or unknown."""
    if scope == "user":
        return "rootless", "--scope user: a per-user daemon"
    if fs.is_dir("/snap/docker") or fs.is_dir("/var/snap/docker"):
        return "snap", "/snap/docker exists"
    dpkg_status = fs.read_text("/var/lib/dpkg/status") if fs.is_file("/var/lib/dpkg/status") else None
    if dpkg_status is not None:
        for package, kind in (("docker-ce", "docker-ce"), ("docker.io", "distribution")):
            if re.search(rf"^Package: {re.escape(package)}\nStatus: install ok installed", dpkg_status, re.M):
                return kind, f"dpkg lists {package} as installed"
    for doc, kind in (
        ("/usr/share/doc/docker-ce", "docker-ce"),
        ("/usr/share/doc/docker.io", "distribution"),
        ("/usr/share/doc/moby-engine", "distribution"),
        ("/usr/share/doc/docker", "distribution"),
    ):
        if fs.is_dir(doc):
            return kind, f"{doc} exists"
    return "unknown", "no package database entry or documentation directory for docker"


def detect_platform(
    fs: RootFS,
    *,
    service: str = "docker",
    scope: str = "system",
    environ: Mapping[str, str] | None = None,
) -> Platform:
    keys, source = read_os_release(fs)
    os_id = keys.get("ID", "linux").lower()
    id_like = tuple(word.lower() for word in keys.get("ID_LIKE", "").split())
    init, init_evidence = detect_init(fs, service, scope=scope, environ=environ)
    install, install_evidence = detect_install(fs, scope=scope)
    return Platform(
        id=os_id,
        id_like=id_like,
        version_id=keys.get("VERSION_ID", ""),
        family=find_family(os_id, id_like),
        init=init,
        install=install,
        evidence={
            "os_release": source or "none found",
            "init": init_evidence,
            "install": install_evidence,
        },
    )
