"""Host trees for detection tests, and the real readers to check them against.

A test lays out a small host tree under ``tmp_path`` (``/etc/os-release``, the
unit or init script at its real path, what the distribution ships beside it)
and points ``dhconf --root`` or ``RootFS`` at it. Corpus files are real files
copied from distributions and bug reports. Tests read them in place from the
shared corpus directory and never copy them into the repository.

``sh_value`` and ``RealSystemd`` read the same files with /bin/sh and with a
systemd user manager, so expected values can be checked against the programs
that start dockerd.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.bed.systemd_user import SystemdUserBed

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"


def corpus_root() -> Path:
    """Return the corpus directory: ``$DHCONF_CORPUS``, else ``<repo>/../shared/corpus``.

    A missing corpus skips the calling test, except under ``CI=true``, where
    it fails the test: CI must run the corpus tests.
    """
    root = Path(os.environ.get("DHCONF_CORPUS") or DEFAULT_CORPUS)
    if not root.is_dir():
        _missing(f"corpus directory {str(root)!r} not found; set DHCONF_CORPUS to the corpus checkout")
    return root


def corpus_path(relative: str) -> Path:
    """Return the path of a corpus file such as ``redhat/centos7-docker-1.3.2-6-docker.service``."""
    path = corpus_root() / relative
    if not path.is_file():
        _missing(f"corpus file {str(path)!r} not found; the corpus checkout is incomplete")
    return path


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# /etc/os-release as each release ships it (base-files, centos-release,
# fedora-release, openSUSE-release, filesystem, alpine-base, baselayout).
OS_RELEASE: dict[str, str] = {
    "ubuntu-16.04": """\
NAME="Ubuntu"
VERSION="16.04.7 LTS (Xenial Xerus)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 16.04.7 LTS"
VERSION_ID="16.04"
HOME_URL="http://www.ubuntu.com/"
SUPPORT_URL="http://help.ubuntu.com/"
BUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/"
VERSION_CODENAME=xenial
UBUNTU_CODENAME=xenial
""",
    "ubuntu-14.04": """\
NAME="Ubuntu"
VERSION="14.04.6 LTS, Trusty Tahr"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 14.04.6 LTS"
VERSION_ID="14.04"
HOME_URL="http://www.ubuntu.com/"
SUPPORT_URL="http://help.ubuntu.com/"
BUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/"
""",
    "debian-12": """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
""",
    "centos-7": """\
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"

""",
    "fedora-25": """\
NAME=Fedora
VERSION="25 (Twenty Five)"
ID=fedora
VERSION_ID=25
PRETTY_NAME="Fedora 25 (Twenty Five)"
ANSI_COLOR="0;34"
CPE_NAME="cpe:/o:fedoraproject:fedora:25"
HOME_URL="https://fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=25
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=25
PRIVACY_POLICY_URL=https://fedoraproject.org/wiki/Legal:PrivacyPolicy
""",
    "opensuse-leap-15": """\
NAME="openSUSE Leap"
VERSION="15.5"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.5"
PRETTY_NAME="openSUSE Leap 15.5"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.5"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
""",
    "opensuse-tumbleweed": """\
NAME="openSUSE Tumbleweed"
# VERSION="20181105"
ID="opensuse-tumbleweed"
ID_LIKE="opensuse suse"
VERSION_ID="20181105"
PRETTY_NAME="openSUSE Tumbleweed"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:tumbleweed:20181105"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
LOGO="distributor-logo"
""",
    # Arch is a rolling release: its os-release has no VERSION_ID.
    "arch": """\
NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
HOME_URL="https://archlinux.org/"
DOCUMENTATION_URL="https://wiki.archlinux.org/"
SUPPORT_URL="https://bbs.archlinux.org/"
BUG_REPORT_URL="https://gitlab.archlinux.org/groups/archlinux/-/issues"
PRIVACY_POLICY_URL="https://terms.archlinux.org/docs/privacy-policy/"
LOGO=archlinux-logo
""",
    "alpine-3.18": """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
""",
    "gentoo": """\
NAME=Gentoo
ID=gentoo
PRETTY_NAME="Gentoo Linux"
ANSI_COLOR="1;32"
HOME_URL="https://www.gentoo.org/"
SUPPORT_URL="https://www.gentoo.org/support/"
BUG_REPORT_URL="https://bugs.gentoo.org/"
VERSION_ID="2.14"
""",
    "coreos-899": """\
NAME=CoreOS
ID=coreos
VERSION=899.17.0
VERSION_ID=899.17.0
BUILD_ID=2016-05-03-2151
PRETTY_NAME="CoreOS 899.17.0"
ANSI_COLOR="1;32"
HOME_URL="https://coreos.com/"
BUG_REPORT_URL="https://github.com/coreos/bugs/issues"
""",
}


@dataclass(frozen=True)
class Corpus:
    """A corpus file named by its path relative to the corpus directory, read when a tree is built."""

    relative: str

    @property
    def path(self) -> Path:
        return corpus_path(self.relative)


def make_tree(
    root: Path,
    *,
    os_release: str | None,
    systemd: bool,
    files: dict[str, str | bytes | Path | Corpus],
) -> Path:
    """Lay out a host tree under ``root`` and return ``root``.

    ``os_release`` is the text of ``/etc/os-release`` (None writes none, as on
    CentOS 6, which has only ``/etc/redhat-release``). ``systemd`` creates
    ``/run/systemd/system``, the directory by which a running systemd is
    recognised. Each entry of ``files`` is written at its host path: a ``str``
    as text, ``bytes`` as they are, a ``Path`` or a ``Corpus`` file as a
    byte-for-byte copy of that file.
    """
    if os_release is not None:
        _write(root, "/etc/os-release", os_release.encode())
    if systemd:
        (root / "run/systemd/system").mkdir(parents=True, exist_ok=True)
    for host_path, content in files.items():
        if isinstance(content, Corpus):
            content = content.path
        if isinstance(content, Path):
            data = content.read_bytes()
        elif isinstance(content, bytes):
            data = content
        else:
            data = content.encode()
        _write(root, host_path, data)
    return root


def _write(root: Path, host_path: str, data: bytes) -> None:
    if not host_path.startswith("/"):
        raise ValueError(f"host path must be absolute: {host_path!r}")
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


# The real readers: /bin/sh, and systemd in a user manager of the test bed.

_SH_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def sh_value(path: Path, variable: str) -> str | None:
    """Source ``path`` with the real /bin/sh, as an init script does; return the variable's value.

    The shell starts with an empty environment, so only the file sets the
    variable. Returns None when the variable ends up unset. Errors of the
    sourced file (a command that is not found) do not stop the shell.
    """
    if not variable.isidentifier():
        raise ValueError(f"not a shell variable name: {variable!r}")
    script = f'. "$1" >/dev/null 2>&1; printf "%s\\0%s" "${{{variable}+set}}" "${{{variable}-}}"'
    completed = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(path)],
        env={"PATH": _SH_PATH}, capture_output=True, check=True, timeout=30,
    )
    is_set, _, value = completed.stdout.decode().partition("\0")
    return value if is_set == "set" else None


class RealSystemd:
    """A real systemd user manager (systemd 252 on Debian 12) that reads files for a test.

    Each call writes a new unit, so no result depends on an earlier call.
    """

    def __init__(self, bed: SystemdUserBed) -> None:
        self.bed = bed
        self.count = 0
        self.files = bed.root / "dhconf-files"
        self.files.mkdir()

    def read_environment_file(self, source: Path, variable: str) -> tuple[str, list[str]]:
        """Return ``${variable}`` and the words of ``$variable`` in ExecStart= after EnvironmentFile=source."""
        self.count += 1
        env_file = self.files / f"{self.count}.env"
        env_file.write_bytes(source.read_bytes())
        output = self.files / f"{self.count}.out"
        unit = f"dhconf-envfile-{self.count}.service"
        # The format is printf's "%s\0": "%%" is how systemd writes "%", and "\\0" becomes "\0".
        self.bed.write_unit(unit, (
            "[Service]\n"
            "Type=oneshot\n"
            f"EnvironmentFile={env_file}\n"
            f'ExecStart=/usr/bin/printf "%%s\\\\0" ${{{variable}}} --words-- ${variable}\n'
            f"StandardOutput=file:{output}\n"
        ))
        self.bed.systemctl("daemon-reload")
        self.bed.systemctl("start", unit)
        fields = output.read_bytes().decode().split("\0")[:-1]
        if len(fields) < 2 or fields[1] != "--words--":
            raise RuntimeError(f"unexpected output of {unit}: {fields!r}")
        return fields[0], fields[2:]

    def load_state(self, unit_text: str, dropins: dict[str, str] | None = None) -> str:
        """Load a unit (and drop-ins, by file name) without starting it; return its LoadState."""
        self.count += 1
        unit = f"dhconf-load-{self.count}.service"
        self.bed.write_unit(unit, unit_text)
        if dropins:
            directory = self.bed.unit_dir / f"{unit}.d"
            directory.mkdir()
            for name, text in dropins.items():
                (directory / name).write_text(text)
        self.bed.systemctl("daemon-reload")
        property_line = self.bed.systemctl("show", "--property=LoadState", unit).stdout.strip()
        return property_line.removeprefix("LoadState=")


@contextlib.contextmanager
def real_systemd() -> Iterator[RealSystemd]:
    """Run a systemd user manager for the ``with`` block, or skip the test (fail it under CI) without one."""
    from tests.bed.systemd_user import systemd_user_bed

    with systemd_user_bed(dockerd=False) as bed:
        yield RealSystemd(bed)
