"""``detect`` on host trees built from the real files in the corpus.

Each row of ``TREES`` lays out one realistic host: its os-release, the corpus
files at the paths where the distribution installs them, and what that
distribution ships beside them. The expected hosts, finding codes and key
sources were worked out by reading the files as systemd, /bin/sh and dockerd
read them, not by running dhconf.

Conventions in the table: ``hosts`` is compared without order, because
dockerd 23+ sorts and de-duplicates them anyway. ``findings`` is the exact set
of codes. ``sources`` lists the sources that must be present, each with its
hosts and whether dockerd reads it. Files that are not in the corpus are
written inline, each under a comment that marks it.

The second half checks the readers themselves: real ``/bin/sh`` on every
variable file that an init script sources, and for the files where systemd's
EnvironmentFile= reading differs from the shell's, both values side by side,
systemd's taken from a real systemd user manager.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dhconf.detect import detect
from dhconf.rootfs import RootFS
from dhconf.sources.envfile import parse_environment_file
from dhconf.sources.shellvars import read_shell_variables
from tests.trees import (
    OS_RELEASE,
    Corpus,
    RealSystemd,
    corpus_path,
    corpus_root,
    make_tree,
    real_systemd,
    sh_value,
)


@dataclass(frozen=True)
class Src:
    """A source that detect must report: kind, host path, variable, effective, hosts."""

    kind: str
    path: str | None
    variable: str | None
    effective: bool
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tree:
    name: str
    os: str | None
    files: dict[str, Corpus | str]
    init: str
    hosts: tuple[str, ...]
    findings: frozenset[str] = frozenset()
    sources: tuple[Src, ...] = ()
    systemd: bool = True
    scope: str = "system"
    unit: str | None = None
    environ: dict[str, str] = field(default_factory=dict)
    # The daemon's command line after variable substitution, where reading it is the point of the row.
    argv: tuple[str, ...] | None = None
    # Aspects ("init", "hosts", "findings", "sources") where dhconf is known to be wrong, with the reason.
    known_wrong: dict[str, str] = field(default_factory=dict)


# Corpus files used in several trees.
UPSTREAM_29_UNIT = Corpus("upstream/moby-v29.0.0-docker.service")
UPSTREAM_29_SOCKET = Corpus("upstream/moby-v29.0.0-docker.socket")
UPSTREAM_1706_UNIT = Corpus("upstream/moby-v17.06-docker.service")
UPSTREAM_RPM_UNIT = Corpus("upstream/moby-v20.10.0-docker.service.rpm")
UPSTREAM_DEFAULT = Corpus("upstream/moby-v29.0.0-sysvinit-debian-docker.default")
UPSTREAM_SYSV_INIT = Corpus("upstream/moby-v29.0.0-sysvinit-debian-docker.init")
UPSTREAM_UPSTART_JOB = Corpus("upstream/moby-v24.0.0-upstart-docker.conf")
ARCH_111_UNIT = Corpus("arch/arch-docker-1.11.1-1-docker.service")
UBUNTU_UNIT = Corpus("ubuntu/ubuntu-docker.io-20.10.21-0ubuntu3-docker.service")
# Ubuntu's socket listens on /var/run/docker.sock, as docker.socket did in moby
# before 20.10; the trees of older releases use it for that reason.
VAR_RUN_SOCKET = Corpus("ubuntu/ubuntu-docker.io-20.10.21-0ubuntu3-docker.socket")
DEBIAN_DEFAULT = Corpus("debian/debian-docker.io-1.11.2-etc-default-docker")
REDHAT_113_UNIT = Corpus("redhat/centos-virt7-docker-1.13.1-10-docker.service")
REDHAT_113_SYSCONFIG = Corpus("redhat/centos-virt7-docker-1.13.1-17-sysconfig-docker")
REDHAT_132_UNIT = Corpus("redhat/centos7-docker-1.3.2-6-docker.service")
REDHAT_STORAGE = Corpus("redhat/centos7-docker-1.3.0-sysconfig-docker-storage")
FEDORA_SYSCONFIG = Corpus("fedora/fedora-master-docker-1.12.2-6-sysconfig-docker")
FEDORA_NETWORK = Corpus("fedora/fedora-master-docker-1.12.2-6-sysconfig-docker-network")
CHEF_SYSCONFIG = Corpus("user-posted/sous-chefs-docker-issue-273-sysconfig-docker")
CHEF_NETWORK = Corpus("user-posted/sous-chefs-docker-issue-273-sysconfig-docker-network")
SELF_REFERENCE_DEFAULT = Corpus("user-posted/moby-issue-18516-etc-default-docker-self-reference")
H_EQUALS_DEFAULT = Corpus("user-posted/moby-pr-2652-etc-default-docker-H-equals")
NO_SCHEME_DEFAULT = Corpus("user-posted/azure-docker-extension-issue-21-etc-default-docker-no-scheme")
CHEF_DEFAULT = Corpus("user-posted/sous-chefs-docker-issue-691-etc-default-docker")
OPENSUSE_SYSCONFIG = Corpus("user-posted/opensuse-sysconfig-docker-dockarium-readme")
DOCKER_IO_09_DEFAULT = Corpus("debian/docker.io-0.9.1-etc-default-docker")
OPENRC_CONFD = Corpus("upstream/moby-v29.0.0-openrc-docker.confd")
ALPINE_CONFD = Corpus("alpine/alpine-aports-docker.confd")
GENTOO_CONFD = Corpus("gentoo/gentoo-app-emulation-docker-r2.confd")
REDHAT_SYSV_SYSCONFIG = Corpus("upstream/moby-v29.0.0-sysvinit-redhat-docker.sysconfig")
REDHAT_132_SYSCONFIG = Corpus("redhat/centos7-docker-1.3.2-6-sysconfig-docker")
REDHAT_130_SYSCONFIG = Corpus("redhat/centos7-docker-1.3.0-3-sysconfig-docker")

# Not in the corpus: registries.service on CentOS 7 writes this file at boot,
# and the Red Hat 1.13 unit loads it without '-', so a running system has it.
REGISTRIES_CONF = "REGISTRIES='--add-registry registry.access.redhat.com'\n"
# Not in the corpus: /sbin/initctl only has to exist for upstart to be recognised.
INITCTL = "#!/bin/sh\n# stand-in for upstart's initctl\n"
# Not in the corpus: /etc/redhat-release of CentOS 6, which has no os-release.
CENTOS6_RELEASE = "CentOS release 6.10 (Final)\n"
# Not in the corpus: the unit that snapd generates for the docker snap's daemon.
SNAP_UNIT = """\
[Unit]
# Auto-generated, DO NOT EDIT
Description=Service for snap application docker.dockerd
Requires=snap-docker-2932.mount
Wants=network.target
After=snap-docker-2932.mount network.target snapd.apparmor.service
X-Snappy=yes

[Service]
EnvironmentFile=-/etc/environment
ExecStart=/usr/bin/snap run docker.dockerd
SyslogIdentifier=docker.dockerd
Restart=on-failure
WorkingDirectory=/var/snap/docker/2932
TimeoutStopSec=30
Type=simple

[Install]
WantedBy=multi-user.target
"""

DEFAULT_SOCKET = "unix:///var/run/docker.sock"

ALICE = {"HOME": "/home/alice", "XDG_RUNTIME_DIR": "/run/user/1000"}
ALICE_SOCKET = "unix:///run/user/1000/docker.sock"

TREES = [
    # Debian and Ubuntu
    Tree(
        "ubuntu-docker.io-unit-and-socket",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": UBUNTU_UNIT,
            "/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/default/docker": DEBIAN_DEFAULT,
        },
        init="systemd",
        hosts=("fd://",),
        sources=(
            Src("unit", "/lib/systemd/system/docker.service", None, True, ("fd://",)),
            Src("socket", "/lib/systemd/system/docker.socket", None, True, (DEFAULT_SOCKET,)),
        ),
    ),
    Tree(
        "docker-ce-29-debian",
        "debian-12",
        {
            "/lib/systemd/system/docker.service": UPSTREAM_29_UNIT,
            "/lib/systemd/system/docker.socket": UPSTREAM_29_SOCKET,
            "/etc/default/docker": UPSTREAM_DEFAULT,
            "/etc/init.d/docker": UPSTREAM_SYSV_INIT,
        },
        init="systemd",
        hosts=("fd://",),
        sources=(
            Src("unit", "/lib/systemd/system/docker.service", None, True, ("fd://",)),
            Src("socket", "/lib/systemd/system/docker.socket", None, True, ("unix:///run/docker.sock",)),
        ),
    ),
    Tree(
        "docker-ce-29-with-remote-access-daemon-json",
        "debian-12",
        {
            "/lib/systemd/system/docker.service": UPSTREAM_29_UNIT,
            "/lib/systemd/system/docker.socket": UPSTREAM_29_SOCKET,
            "/etc/docker/daemon.json": Corpus("upstream/docker-docs-remote-access-daemon.json"),
        },
        init="systemd",
        hosts=("fd://",),
        findings=frozenset({"hosts_conflict"}),
        sources=(
            Src("daemon-json", "/etc/docker/daemon.json", None, False,
                (DEFAULT_SOCKET, "tcp://127.0.0.1:2375")),
        ),
    ),
    Tree(
        "docker-ce-29-hosts-moved-to-daemon-json",
        "debian-12",
        {
            "/lib/systemd/system/docker.service": UPSTREAM_29_UNIT,
            "/lib/systemd/system/docker.socket": UPSTREAM_29_SOCKET,
            "/etc/systemd/system/docker.service.d/override.conf": Corpus("user-posted/moby-issue-38119-override.conf"),
            "/etc/docker/daemon.json": Corpus("user-posted/moby-issue-38119-daemon.json"),
        },
        init="systemd",
        hosts=("fd://",),
        argv=("/usr/bin/dockerd",),
        sources=(Src("daemon-json", "/etc/docker/daemon.json", None, True, ("fd://",)),),
    ),
    Tree(
        "docker-ce-1706-remote-access-override",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": UPSTREAM_1706_UNIT,
            "/lib/systemd/system/docker.socket": UPSTREAM_29_SOCKET,
            "/etc/systemd/system/docker.service.d/override.conf": Corpus("upstream/docker-docs-remote-access-override.conf"),
            "/etc/default/docker": UPSTREAM_DEFAULT,
        },
        init="systemd",
        hosts=("fd://", "tcp://127.0.0.1:2375"),
        sources=(
            Src("unit", "/etc/systemd/system/docker.service.d/override.conf", None, True,
                ("fd://", "tcp://127.0.0.1:2375")),
        ),
    ),
    Tree(
        "docker-ce-1706-docker-machine-dropin",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": UPSTREAM_1706_UNIT,
            "/lib/systemd/system/docker.socket": UPSTREAM_29_SOCKET,
            "/etc/systemd/system/docker.service.d/10-machine.conf": Corpus("user-posted/docker-machine-issue-4129-10-machine.conf"),
        },
        init="systemd",
        # --tlsverify is on the same line, so the wildcard TCP binding needs client certificates.
        # The unit still requires docker.socket, which listens on the same path as the unix binding.
        hosts=("tcp://0.0.0.0:2376", DEFAULT_SOCKET),
        findings=frozenset({"unix_socket_shadows_activation"}),
        sources=(
            Src("unit", "/etc/systemd/system/docker.service.d/10-machine.conf", None, True,
                ("tcp://0.0.0.0:2376", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        "docker-machine-replaces-ubuntu-unit",
        "ubuntu-16.04",
        {
            "/etc/systemd/system/docker.service": Corpus("user-posted/docker-machine-generated-docker.service-no-unit-section"),
            "/lib/systemd/system/docker.service": UBUNTU_UNIT,
            "/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
        },
        init="systemd",
        hosts=("tcp://0.0.0.0:2376", DEFAULT_SOCKET),
        sources=(
            Src("unit", "/etc/systemd/system/docker.service", None, True, ("tcp://0.0.0.0:2376", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        "docker-ce-1809-unix-empty-path",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": Corpus("upstream/docker-ce-packaging-v18.09.0-docker.service"),
            "/etc/default/docker": UPSTREAM_DEFAULT,
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        sources=(Src("unit", "/lib/systemd/system/docker.service", None, True, (DEFAULT_SOCKET,)),),
    ),
    Tree(
        "ubuntu-docker.io-with-conflicting-daemon-json",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": UBUNTU_UNIT,
            "/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/docker/daemon.json": Corpus("user-posted/docker-for-linux-issue-732-daemon.json"),
        },
        init="systemd",
        hosts=("fd://",),
        findings=frozenset({"hosts_conflict"}),
        sources=(
            Src("daemon-json", "/etc/docker/daemon.json", None, False, ("tcp://0.0.0.0:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        # $DOCKER_OPTS from /etc/default/docker: " --host=unix:///var/run/docker.sock -r",
        # on the same path as the socket that fd:// passes.
        "ubuntu-docker-daemon-unit-with-chef-default",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": Corpus("user-posted/ubuntu-docker.service-docker-daemon-default-opts"),
            "/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/default/docker": CHEF_DEFAULT,
        },
        init="systemd",
        hosts=("fd://", DEFAULT_SOCKET),
        findings=frozenset({"unix_socket_shadows_activation"}),
        argv=("/usr/bin/docker", "daemon", "-H", "fd://", "--host=unix:///var/run/docker.sock", "-r"),
        sources=(
            Src("unit", "/lib/systemd/system/docker.service", None, True, ("fd://",)),
            Src("env-file", "/etc/default/docker", "DOCKER_OPTS", True, (DEFAULT_SOCKET,)),
        ),
    ),
    Tree(
        # docker daemon $DOCKER_OPTS -H fd:// with -H=unix:// and -H=tcp:// in DOCKER_OPTS.
        "docker-daemon-opts-before-fd-with-H-equals",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": Corpus("user-posted/docker.service-docker-daemon-opts-before-fd"),
            "/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/default/docker": H_EQUALS_DEFAULT,
        },
        init="systemd",
        hosts=("fd://", "tcp://127.0.0.1:4243", DEFAULT_SOCKET),
        findings=frozenset({"unix_socket_shadows_activation"}),
        sources=(
            Src("env-file", "/etc/default/docker", "DOCKER_OPTS", True, (DEFAULT_SOCKET, "tcp://127.0.0.1:4243")),
        ),
    ),
    Tree(
        # ExecStart=docker -d $DOCKER_OPTS ...: systemd passes "${DOCKER_OPTS}" from the
        # self-referencing default file as a literal word, then the -H flags.
        "ubuntu-dropin-relative-docker-with-self-reference",
        "ubuntu-16.04",
        {
            "/lib/systemd/system/docker.service": UBUNTU_UNIT,
            "/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/systemd/system/docker.service.d/override.conf": Corpus("user-posted/moby-issue-9889-dropin-relative-docker-ellipsis.conf"),
            "/etc/default/docker": SELF_REFERENCE_DEFAULT,
        },
        init="systemd",
        hosts=("tcp://127.0.0.1:2375", DEFAULT_SOCKET),
        findings=frozenset({"envfile_literal_dollar", "unix_socket_shadows_activation"}),
        argv=("docker", "-d", "${DOCKER_OPTS}", "-D", "-H", "tcp://127.0.0.1:2375", "-H", DEFAULT_SOCKET, "..."),
        sources=(
            Src("env-file", "/etc/default/docker", "DOCKER_OPTS", True, ("tcp://127.0.0.1:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        # The fragment adds a second ExecStart= without an empty one first: systemd refuses the unit.
        "upstream-unit-with-fragment-dropin-without-reset",
        "debian-12",
        {
            "/lib/systemd/system/docker.service": UPSTREAM_29_UNIT,
            "/lib/systemd/system/docker.socket": UPSTREAM_29_SOCKET,
            "/etc/systemd/system/docker.service.d/override.conf": Corpus("user-posted/service-section-fragment-unix-two-slashes"),
        },
        init="systemd",
        # The hosts of the drop-in's command line. unix://var/run/docker.sock is a relative
        # path, which dockerd keeps as written and binds relative to its working directory.
        hosts=("tcp://0.0.0.0:2375", "unix://var/run/docker.sock"),
        findings=frozenset({"execstart_multiple", "insecure_tcp", "relative_unix_path"}),
    ),
    Tree(
        "debian-sysvinit-docker-ce-default-comments-only",
        "debian-12",
        {"/etc/init.d/docker": UPSTREAM_SYSV_INIT, "/etc/default/docker": UPSTREAM_DEFAULT},
        init="sysvinit",
        systemd=False,
        hosts=(DEFAULT_SOCKET,),
        sources=(
            Src("shell-file", "/etc/default/docker", "DOCKER_OPTS", True, ()),
            Src("default", None, None, True, (DEFAULT_SOCKET,)),
        ),
    ),
    Tree(
        "debian-sysvinit-H-equals",
        "debian-12",
        {"/etc/init.d/docker": UPSTREAM_SYSV_INIT, "/etc/default/docker": H_EQUALS_DEFAULT},
        init="sysvinit",
        systemd=False,
        hosts=(DEFAULT_SOCKET, "tcp://127.0.0.1:4243"),
        sources=(
            Src("shell-file", "/etc/default/docker", "DOCKER_OPTS", True, (DEFAULT_SOCKET, "tcp://127.0.0.1:4243")),
        ),
    ),
    Tree(
        # Ubuntu 14.04's docker.io 0.9.1: the upstart job is docker.io, and it sources
        # /etc/default/docker.io (/etc/default/$UPSTART_JOB), whose DOCKER_OPTS is commented out.
        "ubuntu-1404-upstart-docker.io",
        "ubuntu-14.04",
        {
            "/etc/init/docker.io.conf": Corpus("ubuntu/docker.io-0.9.1-upstart-docker.conf"),
            "/etc/init.d/docker.io": Corpus("debian/docker.io-0.9.1-init.d-docker"),
            "/etc/default/docker.io": DOCKER_IO_09_DEFAULT,
            "/sbin/initctl": INITCTL,
        },
        init="upstart",
        systemd=False,
        hosts=(DEFAULT_SOCKET,),
        sources=(Src("shell-file", "/etc/default/docker.io", "DOCKER_OPTS", True, ()),),
    ),
    Tree(
        # The job sets DOCKER_OPTS= before sourcing, so "${DOCKER_OPTS}" in the file is empty.
        "ubuntu-1404-upstart-self-reference",
        "ubuntu-14.04",
        {
            "/etc/init/docker.conf": UPSTREAM_UPSTART_JOB,
            "/etc/init.d/docker": UPSTREAM_SYSV_INIT,
            "/etc/default/docker": SELF_REFERENCE_DEFAULT,
            "/sbin/initctl": INITCTL,
        },
        init="upstart",
        systemd=False,
        hosts=("tcp://127.0.0.1:2375", DEFAULT_SOCKET),
        sources=(
            Src("shell-file", "/etc/default/docker", "DOCKER_OPTS", True, ("tcp://127.0.0.1:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        # -H=0.0.0.0:4243 has no scheme: dockerd reads it as tcp. --tlsverify is set.
        "ubuntu-1404-upstart-azure-no-scheme",
        "ubuntu-14.04",
        {
            "/etc/init/docker.conf": UPSTREAM_UPSTART_JOB,
            "/etc/default/docker": NO_SCHEME_DEFAULT,
            "/sbin/initctl": INITCTL,
        },
        init="upstart",
        systemd=False,
        hosts=("tcp://0.0.0.0:4243",),
        sources=(Src("shell-file", "/etc/default/docker", "DOCKER_OPTS", True, ("tcp://0.0.0.0:4243",)),),
    ),
    # Red Hat family
    Tree(
        "centos6-sysvinit-other-args",
        None,
        {
            "/etc/redhat-release": CENTOS6_RELEASE,
            "/etc/init.d/docker": Corpus("upstream/moby-v29.0.0-sysvinit-redhat-docker.init"),
            "/etc/sysconfig/docker": REDHAT_SYSV_SYSCONFIG,
        },
        init="sysvinit",
        systemd=False,
        hosts=(DEFAULT_SOCKET,),
        sources=(Src("shell-file", "/etc/sysconfig/docker", "other_args", True, ()),),
    ),
    Tree(
        # The sysconfig's "if [ -z ... ]; then" and "fi" lines have no '=': systemd ignores them.
        "centos7-redhat-1.13",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": REDHAT_113_UNIT,
            "/etc/sysconfig/docker": REDHAT_113_SYSCONFIG,
            "/etc/sysconfig/docker-storage": REDHAT_STORAGE,
            "/etc/sysconfig/docker-network": FEDORA_NETWORK,
            "/run/containers/registries.conf": REGISTRIES_CONF,
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        findings=frozenset({"envfile_ignored_line"}),
        sources=(
            Src("env-file", "/etc/sysconfig/docker", "OPTIONS", True, ()),
            Src("default", None, None, True, (DEFAULT_SOCKET,)),
        ),
    ),
    Tree(
        # The Chef-written sysconfig sets DOCKER_OPTS, which this unit never expands. The unit
        # does expand DOCKER_NETWORK_OPTIONS, which systemd reads without the leading blanks.
        "centos7-redhat-1.13-with-chef-sysconfig",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": REDHAT_113_UNIT,
            "/etc/sysconfig/docker": CHEF_SYSCONFIG,
            "/etc/sysconfig/docker-network": CHEF_NETWORK,
            "/etc/sysconfig/docker-storage": REDHAT_STORAGE,
            "/run/containers/registries.conf": REGISTRIES_CONF,
        },
        init="systemd",
        hosts=("tcp://0.0.0.0:2375", DEFAULT_SOCKET),
        findings=frozenset({"options_not_read", "insecure_tcp"}),
        sources=(
            Src("env-file", "/etc/sysconfig/docker-network", "DOCKER_NETWORK_OPTIONS", True,
                ("tcp://0.0.0.0:2375", DEFAULT_SOCKET)),
            Src("env-file", "/etc/sysconfig/docker", "DOCKER_OPTS", False, ("tcp://0.0.0.0:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        # sh -c '... $OPTIONS ...': systemd leaves $VAR inside the quoted script alone,
        # and sh expands it from the environment that the EnvironmentFile= lines set.
        "centos7-redhat-1.9-sh-c-with-chef-sysconfig",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("redhat/centos7-docker-1.9.1-33-docker.service"),
            "/etc/sysconfig/docker": CHEF_SYSCONFIG,
            "/etc/sysconfig/docker-network": CHEF_NETWORK,
            "/etc/sysconfig/docker-storage": REDHAT_STORAGE,
        },
        init="systemd",
        hosts=("tcp://0.0.0.0:2375", DEFAULT_SOCKET),
        findings=frozenset({"options_not_read", "insecure_tcp"}),
        # The words of the script's first command, after sh expands the variables.
        argv=("/usr/bin/docker-current", "daemon", "--storage-opt", "dm.fs=xfs",
              "--host=tcp://0.0.0.0:2375", "--host=unix:///var/run/docker.sock"),
        sources=(
            Src("env-file", "/etc/sysconfig/docker-network", "DOCKER_NETWORK_OPTIONS", True,
                ("tcp://0.0.0.0:2375", DEFAULT_SOCKET)),
            Src("env-file", "/etc/sysconfig/docker", "DOCKER_OPTS", False, ("tcp://0.0.0.0:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        # OPTIONS=--selinux-enabled -H fd:// (unquoted, trailing blank): the binding lives in the sysconfig.
        "centos7-redhat-1.3.2",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": REDHAT_132_UNIT,
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/sysconfig/docker": REDHAT_132_SYSCONFIG,
            "/etc/sysconfig/docker-storage": REDHAT_STORAGE,
        },
        init="systemd",
        hosts=("fd://",),
        sources=(Src("env-file", "/etc/sysconfig/docker", "OPTIONS", True, ("fd://",)),),
    ),
    Tree(
        # The 1.3.0 sysconfig: "source ..." is no assignment to systemd, and
        # $DOCKER_STORAGE_OPTIONS stays a literal word in OPTIONS.
        "centos7-redhat-1.3.2-unit-with-1.3.0-sysconfig",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": REDHAT_132_UNIT,
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/sysconfig/docker": REDHAT_130_SYSCONFIG,
            "/etc/sysconfig/docker-storage": REDHAT_STORAGE,
        },
        init="systemd",
        hosts=("fd://",),
        findings=frozenset({"envfile_ignored_line", "envfile_literal_dollar"}),
        argv=("/usr/bin/docker", "-d", "--selinux-enabled", "-H", "fd://", "$DOCKER_STORAGE_OPTIONS",
              "--storage-opt", "dm.fs=xfs"),
        sources=(Src("env-file", "/etc/sysconfig/docker", "OPTIONS", True, ("fd://",)),),
    ),
    Tree(
        # The 0.11 unit loads /etc/sysconfig/docker but expands nothing from it.
        "centos7-redhat-0.11-with-chef-sysconfig",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("redhat/centos7-docker-0.11.1-16-docker.service"),
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/sysconfig/docker": CHEF_SYSCONFIG,
        },
        init="systemd",
        hosts=("fd://",),
        findings=frozenset({"options_not_read"}),
        sources=(
            Src("unit", "/usr/lib/systemd/system/docker.service", None, True, ("fd://",)),
            Src("env-file", "/etc/sysconfig/docker", "DOCKER_OPTS", False, ("tcp://0.0.0.0:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        # The unit of an unmerged moby pull request expands $DOCKER_OPTIONS, which no Red Hat
        # sysconfig sets. It loads OPTIONS (with -H fd://) from the 1.3.2 sysconfig and ignores it.
        "centos7-unmerged-redhat-unit-with-1.3.2-sysconfig",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("upstream/moby-pr13415-systemd-redhat-docker.service"),
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/sysconfig/docker": REDHAT_132_SYSCONFIG,
            "/etc/sysconfig/docker-storage": REDHAT_STORAGE,
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        findings=frozenset({"options_not_read", "unix_socket_shadows_activation"}),
        sources=(
            Src("env-file", "/etc/sysconfig/docker", "OPTIONS", False, ("fd://",)),
            Src("default", None, None, True, (DEFAULT_SOCKET,)),
        ),
    ),
    Tree(
        # docker-engine 1.11's upstream unit with the docs' sysconfig drop-in: the Chef network
        # file adds TCP and the default socket path, which docker.socket also binds.
        "centos7-docker-engine-1.11-sysconfig-dropin",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": ARCH_111_UNIT,
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/systemd/system/docker.service.d/docker.conf": Corpus("upstream/moby-docs-v1.10.0-dropin-sysconfig-compat.conf"),
            "/etc/sysconfig/docker": REDHAT_113_SYSCONFIG,
            "/etc/sysconfig/docker-network": CHEF_NETWORK,
        },
        init="systemd",
        hosts=("fd://", "tcp://0.0.0.0:2375", DEFAULT_SOCKET),
        findings=frozenset({"insecure_tcp", "unix_socket_shadows_activation", "envfile_ignored_line"}),
        sources=(
            Src("unit", "/etc/systemd/system/docker.service.d/docker.conf", None, True, ("fd://",)),
            Src("env-file", "/etc/sysconfig/docker-network", "DOCKER_NETWORK_OPTIONS", True,
                ("tcp://0.0.0.0:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        "centos7-docker-ce-rpm-unit-with-remote-access-daemon-json",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": UPSTREAM_RPM_UNIT,
            "/etc/docker/daemon.json": Corpus("upstream/docker-docs-remote-access-daemon.json"),
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET, "tcp://127.0.0.1:2375"),
        sources=(
            Src("daemon-json", "/etc/docker/daemon.json", None, True, (DEFAULT_SOCKET, "tcp://127.0.0.1:2375")),
        ),
    ),
    Tree(
        # "hosts": [] with "tls": true: dockerd falls back to its TLS default, tcp://localhost:2376.
        "centos7-docker-ce-rpm-unit-with-full-daemon-json",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": UPSTREAM_RPM_UNIT,
            "/etc/docker/daemon.json": Corpus("upstream/moby-docs-v1.12.0-daemon.json-full-example"),
        },
        init="systemd",
        hosts=("tcp://localhost:2376",),
        sources=(
            Src("daemon-json", "/etc/docker/daemon.json", None, False, ()),
            Src("default", None, None, True, ("tcp://localhost:2376",)),
        ),
    ),
    Tree(
        # {"host": [...], "host": [...]}: a key dockerd does not know, given twice.
        "centos7-docker-ce-rpm-unit-with-duplicate-host-key",
        "centos-7",
        {
            "/usr/lib/systemd/system/docker.service": UPSTREAM_RPM_UNIT,
            "/etc/docker/daemon.json": Corpus("user-posted/moby-issue-38310-daemon.json-duplicate-host-key"),
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        findings=frozenset({"daemon_json_unknown_key", "daemon_json_duplicate_key"}),
    ),
    Tree(
        "centos7-docker-ce-continuation-no-H",
        "centos-7",
        {"/usr/lib/systemd/system/docker.service": Corpus("upstream/docker-ce-packaging-pr221-docker.service")},
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        argv=("/usr/bin/dockerd", "--containerd", "/run/containerd/containerd.sock",
              "--default-runtime", "containerd", "--add-runtime", "containerd=runc"),
        sources=(Src("default", None, None, True, (DEFAULT_SOCKET,)),),
    ),
    Tree(
        # ExecStopPost=/usr/bin/dockerd post-stop is not the daemon's command line.
        "centos7-docker-ce-exec-stop-post",
        "centos-7",
        {"/usr/lib/systemd/system/docker.service": Corpus("upstream/docker-ce-packaging-pr222-docker.service")},
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        argv=("/usr/bin/dockerd", "-H", "unix://", "--containerd", "/run/containerd/containerd.sock",
              "--default-runtime", "containerd", "--add-runtime", "containerd=runc"),
        sources=(Src("unit", "/usr/lib/systemd/system/docker.service", None, True, (DEFAULT_SOCKET,)),),
    ),
    Tree(
        "centos7-docker-ce-1806-edited-for-tcp",
        "centos-7",
        {"/usr/lib/systemd/system/docker.service": Corpus("user-posted/centos7-docker-ce-18.06-docker.service-edited-tcp2375")},
        init="systemd",
        hosts=("tcp://0.0.0.0:2375", DEFAULT_SOCKET),
        findings=frozenset({"insecure_tcp"}),
    ),
    Tree(
        # CRLF unit whose continuation breaks after --graph=/data/docker: the rest
        # becomes an unknown key, and ExecStart keeps only dockerd --graph=/data/docker.
        "binary-install-broken-continuation",
        "centos-7",
        {"/etc/systemd/system/docker.service": Corpus("user-posted/binary-install-docker.service-broken-continuation")},
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        findings=frozenset({"unit_broken_continuation"}),
        argv=("/usr/local/bin/dockerd", "--graph=/data/docker"),
        sources=(Src("default", None, None, True, (DEFAULT_SOCKET,)),),
    ),
    Tree(
        "fedora-master-1.12",
        "fedora-25",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("fedora/fedora-master-docker-1.12.2-6-docker.service"),
            "/etc/sysconfig/docker": FEDORA_SYSCONFIG,
            "/etc/sysconfig/docker-network": FEDORA_NETWORK,
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        sources=(
            Src("env-file", "/etc/sysconfig/docker", "OPTIONS", True, ()),
            Src("env-file", "/etc/sysconfig/docker-network", "DOCKER_NETWORK_OPTIONS", True, ()),
        ),
    ),
    Tree(
        "fedora22-docker-d-continuation",
        "fedora-25",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("fedora/fedora22-docker-1.7.0-4-docker.service"),
            "/etc/sysconfig/docker": FEDORA_SYSCONFIG,
            "/etc/sysconfig/docker-network": FEDORA_NETWORK,
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        sources=(Src("env-file", "/etc/sysconfig/docker", "OPTIONS", True, ()),),
    ),
    Tree(
        "fedora23-sh-c-forward-journald",
        "fedora-25",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("fedora/fedora23-docker-1.10.3-32-docker.service"),
            "/etc/sysconfig/docker": FEDORA_SYSCONFIG,
            "/etc/sysconfig/docker-network": FEDORA_NETWORK,
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        argv=("/usr/bin/docker", "daemon", "--exec-opt", "native.cgroupdriver=systemd",
              "--selinux-enabled", "--log-driver=journald"),
        sources=(Src("env-file", "/etc/sysconfig/docker", "OPTIONS", True, ()),),
    ),
    # SUSE
    Tree(
        "opensuse-leap-sysconfig-docker-opts",
        "opensuse-leap-15",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("suse/opensuse-leap-2018-docker.service"),
            "/etc/sysconfig/docker": OPENSUSE_SYSCONFIG,
        },
        init="systemd",
        hosts=("tcp://127.0.0.1:2375", DEFAULT_SOCKET),
        argv=("/usr/bin/dockerd", "--containerd", "/run/containerd/containerd.sock",
              "--add-runtime", "oci=/usr/sbin/docker-runc",
              "-p", "/run/docker.pid", "-H", "tcp://127.0.0.1:2375", "-H", DEFAULT_SOCKET),
        sources=(
            Src("env-file", "/etc/sysconfig/docker", "DOCKER_OPTS", True, ("tcp://127.0.0.1:2375", DEFAULT_SOCKET)),
        ),
    ),
    Tree(
        # EnvironmentFile=/etc/sysconfig/docker has no '-', and the file is gone: systemd fails the start.
        "opensuse-tumbleweed-sysconfig-missing",
        "opensuse-tumbleweed",
        {"/usr/lib/systemd/system/docker.service": Corpus("suse/opensuse-tumbleweed-2018-docker.service")},
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
        findings=frozenset({"environment_file_missing"}),
    ),
    # Arch, Gentoo, Alpine, CoreOS
    Tree(
        "arch-1.11-with-graph-dropin",
        "arch",
        {
            "/usr/lib/systemd/system/docker.service": ARCH_111_UNIT,
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
            "/etc/systemd/system/docker.service.d/graph.conf": Corpus("upstream/moby-docs-v1.10.0-dropin-graph-storage.conf"),
        },
        init="systemd",
        hosts=("fd://",),
        argv=("/usr/bin/docker", "daemon", "-H", "fd://", "--graph=/mnt/docker-data", "--storage-driver=overlay"),
        sources=(Src("unit", "/etc/systemd/system/docker.service.d/graph.conf", None, True, ("fd://",)),),
    ),
    Tree(
        "arch-upstream-1.3-docker-d",
        "arch",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("upstream/moby-v1.3.0-docker.service"),
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
        },
        init="systemd",
        hosts=("fd://",),
    ),
    Tree(
        "gentoo-systemd-docker-d",
        "gentoo",
        {"/usr/lib/systemd/system/docker.service": Corpus("gentoo/gentoo-app-emulation-docker.service")},
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
    ),
    Tree(
        # The r2 conf.d assigns no DOCKER_OPTS at all.
        "gentoo-openrc",
        "gentoo",
        {
            "/etc/init.d/docker": Corpus("gentoo/gentoo-app-emulation-docker-r3.initd"),
            "/etc/conf.d/docker": GENTOO_CONFD,
        },
        init="openrc",
        systemd=False,
        hosts=(DEFAULT_SOCKET,),
        sources=(Src("shell-file", "/etc/conf.d/docker", "DOCKER_OPTS", True, ()),),
    ),
    Tree(
        "gentoo-openrc-moby-contrib",
        "gentoo",
        {
            "/etc/init.d/docker": Corpus("upstream/moby-v29.0.0-openrc-docker.initd"),
            "/etc/conf.d/docker": OPENRC_CONFD,
        },
        init="openrc",
        systemd=False,
        hosts=(DEFAULT_SOCKET,),
        sources=(Src("shell-file", "/etc/conf.d/docker", "DOCKER_OPTS", True, ()),),
    ),
    Tree(
        "alpine-openrc",
        "alpine-3.18",
        {
            "/etc/init.d/docker": Corpus("alpine/alpine-aports-docker.initd"),
            "/etc/conf.d/docker": ALPINE_CONFD,
        },
        init="openrc",
        systemd=False,
        hosts=(DEFAULT_SOCKET,),
        sources=(Src("shell-file", "/etc/conf.d/docker", "DOCKER_OPTS", True, ()),),
    ),
    Tree(
        # /usr/lib/coreos/dockerd daemon --host=fd://; the DOCKER_OPT* variables are unset.
        "coreos-899-dockerd-daemon",
        "coreos-899",
        {
            "/usr/lib/systemd/system/docker.service": Corpus("user-posted/coreos-899-docker.service-quoted-in-docker-machine-pr3392"),
            "/usr/lib/systemd/system/docker.socket": VAR_RUN_SOCKET,
        },
        init="systemd",
        hosts=("fd://",),
        argv=("/usr/lib/coreos/dockerd", "daemon", "--host=fd://"),
        sources=(Src("unit", "/usr/lib/systemd/system/docker.service", None, True, ("fd://",)),),
    ),
    # Rootless
    Tree(
        # Environment=DOCKERD_FLAGS="--experimental --storage-driver=vfs": no -H, so the
        # rootless default socket in $XDG_RUNTIME_DIR.
        "arch-aur-rootless-user-unit",
        "arch",
        {"/usr/lib/systemd/user/docker.service": Corpus("arch/aur-docker-rootless-user-docker.service")},
        init="systemd",
        scope="user",
        environ=ALICE,
        hosts=(ALICE_SOCKET,),
        argv=("/usr/bin/dockerd-rootless.sh", "--experimental", "--storage-driver=vfs"),
    ),
    Tree(
        # A system unit that runs the rootless daemon as the user "docker" through su.
        "system-unit-su-dockerd-rootless",
        "debian-12",
        {"/etc/systemd/system/docker.service": Corpus("rootless/docker-install-issue-208-system-unit-su-dockerd-rootless.service")},
        init="systemd",
        hosts=(),
        findings=frozenset({"command_unknown"}),
    ),
    Tree(
        # An OpenRC user service, where OpenRC 0.63 looks for system-wide ones. No systemd runs.
        # NOTE: the path that aports installs docker-user.initd to was not checked.
        "alpine-openrc-user-service",
        "alpine-3.18",
        {
            "/etc/init.d/docker": Corpus("alpine/alpine-aports-docker.initd"),
            "/etc/conf.d/docker": ALPINE_CONFD,
            "/etc/user/init.d/docker": Corpus("rootless/alpine-aports-docker-user.initd"),
        },
        init="openrc",
        systemd=False,
        scope="user",
        environ=ALICE,
        hosts=(ALICE_SOCKET,),
    ),
    Tree(
        "rootless-setuptool-generated-user-unit",
        "debian-12",
        {"/home/alice/.config/systemd/user/docker.service": Corpus("rootless/setuptool-generated-user-docker.service-requires-dbus")},
        init="systemd",
        scope="user",
        environ=ALICE,
        hosts=(ALICE_SOCKET,),
    ),
    Tree(
        # The ';' lines after [Install], among them an ExecStart with -H fd://, are comments.
        "rootless-hand-edited-user-unit-with-env-dropin",
        "debian-12",
        {
            "/home/alice/.config/systemd/user/docker.service": Corpus("rootless/debian-docker.io-rootless-user-docker.service-hand-edited"),
            "/home/alice/.config/systemd/user/docker.service.d/override.conf": Corpus("rootless/user-docker.service.d-override.conf-env-only"),
        },
        init="systemd",
        scope="user",
        environ=ALICE,
        hosts=(ALICE_SOCKET,),
    ),
    # Snap: snapd's unit runs "snap run docker.dockerd", which runs the wrapper. The
    # wrapper passes no -H and --config-file=$SNAP_DATA/config/daemon.json, which has no hosts.
    Tree(
        "snap-docker-2023-wrapper",
        "ubuntu-16.04",
        {
            "/etc/systemd/system/snap.docker.dockerd.service": SNAP_UNIT,
            "/snap/docker/current/bin/dockerd-wrapper": Corpus("snap/canonical-docker-snap-dockerd-wrapper"),
            "/var/snap/docker/current/config/daemon.json": Corpus("snap/canonical-docker-snap-config-daemon.json"),
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
    ),
    Tree(
        # The 2018 wrapper: exec dockerd -G $default_socket_group "$@", again no -H.
        "snap-docker-2018-wrapper",
        "ubuntu-16.04",
        {
            "/etc/systemd/system/snap.docker.dockerd.service": SNAP_UNIT,
            "/snap/docker/current/bin/dockerd-wrapper": Corpus("snap/docker-archive-docker-snap-2018-dockerd-wrapper"),
        },
        init="systemd",
        hosts=(DEFAULT_SOCKET,),
    ),
]


def _build(tree: Tree, root: Path) -> Path:
    os_release = OS_RELEASE[tree.os] if tree.os else None
    return make_tree(root, os_release=os_release, systemd=tree.systemd, files=tree.files)


def _detect_json(tree: Tree, root: Path) -> dict:
    detection = detect(RootFS(_build(tree, root)), scope=tree.scope, unit=tree.unit, environ=tree.environ)
    return detection.to_json()


def _params(aspect: str) -> list:
    params = []
    for tree in TREES:
        marks = []
        if aspect in tree.known_wrong:
            marks.append(pytest.mark.xfail(strict=True, reason=tree.known_wrong[aspect]))
        params.append(pytest.param(tree, id=tree.name, marks=marks))
    return params


@pytest.mark.parametrize("tree", _params("init"))
def test_init_system(tree: Tree, tmp_path: Path) -> None:
    document = _detect_json(tree, tmp_path)
    assert document["platform"]["init"] == tree.init


@pytest.mark.parametrize("tree", _params("hosts"))
def test_effective_hosts(tree: Tree, tmp_path: Path) -> None:
    document = _detect_json(tree, tmp_path)
    assert sorted(document["hosts"]) == sorted(tree.hosts), document["findings"]


@pytest.mark.parametrize("tree", _params("findings"))
def test_finding_codes(tree: Tree, tmp_path: Path) -> None:
    document = _detect_json(tree, tmp_path)
    codes = {finding["code"] for finding in document["findings"]}
    assert codes == tree.findings, document["findings"]


@pytest.mark.parametrize("tree", [param for param in _params("argv") if param.values[0].argv is not None])
def test_daemon_argv(tree: Tree, tmp_path: Path) -> None:
    document = _detect_json(tree, tmp_path)
    assert document["command"]["argv"] == list(tree.argv)


@pytest.mark.parametrize("tree", _params("sources"))
def test_key_sources(tree: Tree, tmp_path: Path) -> None:
    document = _detect_json(tree, tmp_path)
    reported = {
        (source["kind"], source["path"], source["variable"]): (source["effective"], sorted(source["hosts"]))
        for source in document["sources"]
    }
    expected = {
        (src.kind, src.path, src.variable): (src.effective, sorted(src.hosts)) for src in tree.sources
    }
    missing_or_different = {key: value for key, value in expected.items() if reported.get(key) != value}
    assert not missing_or_different, document["sources"]


def test_every_corpus_file_is_used() -> None:
    """Every file in the corpus lays out at least one tree or feeds a reader test."""
    root = corpus_root()
    present = {
        path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file() and path.name != "SOURCES.md"
    }
    used = {content.relative for tree in TREES for content in tree.files.values() if isinstance(content, Corpus)}
    used |= {reading.file.relative for reading in SHELL_READINGS + ENV_READINGS}
    assert sorted(present - used) == []


# The readers. A missing value (None) means the variable is not set at all.


@dataclass(frozen=True)
class ShellReading:
    """The value that sh gets for ``variable`` when an init script sources ``file``."""

    name: str
    file: Corpus
    variable: str
    value: str | None


SHELL_READINGS = [
    ShellReading("docker-ce-default-comments-only", UPSTREAM_DEFAULT, "DOCKER_OPTS", None),
    ShellReading("debian-default-comments-only", DEBIAN_DEFAULT, "DOCKER_OPTS", None),
    ShellReading("docker.io-0.9-default-commented", DOCKER_IO_09_DEFAULT, "DOCKER_OPTS", None),
    ShellReading("openrc-confd-empty", OPENRC_CONFD, "DOCKER_OPTS", ""),
    ShellReading("alpine-confd-empty", ALPINE_CONFD, "DOCKER_OPTS", ""),
    ShellReading("gentoo-confd-unassigned", GENTOO_CONFD, "DOCKER_OPTS", None),
    ShellReading("redhat-sysvinit-other-args-empty", REDHAT_SYSV_SYSCONFIG, "other_args", ""),
    # "${DOCKER_OPTS}" expands to the value before the file: unset here, empty in the scripts.
    ShellReading("self-reference", SELF_REFERENCE_DEFAULT, "DOCKER_OPTS",
                 " -D -H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock"),
    ShellReading("H-equals", H_EQUALS_DEFAULT, "DOCKER_OPTS",
                 "-D -H=unix:///var/run/docker.sock -H=tcp://127.0.0.1:4243"),
    ShellReading("no-scheme-with-tlsverify", NO_SCHEME_DEFAULT, "DOCKER_OPTS",
                 "--tlsverify --tlscacert=/etc/docker/ca.pem --tlscert=/etc/docker/server-cert.pem "
                 "--tlskey=/etc/docker/server-key.pem -H=0.0.0.0:4243"),
    ShellReading("chef-leading-blank", CHEF_DEFAULT, "DOCKER_OPTS", " --host=unix:///var/run/docker.sock -r"),
]


@dataclass(frozen=True)
class EnvReading:
    """How systemd's EnvironmentFile= and /bin/sh each read ``variable`` in ``file``.

    ``words`` is what ``$VARIABLE`` in ExecStart= becomes. ``sh_value`` is the
    value after sourcing the file with sh, for a file that both could read.
    """

    name: str
    file: Corpus
    variable: str
    systemd_value: str
    words: tuple[str, ...]
    sh_value: str | None


ENV_READINGS = [
    # Both readers agree.
    EnvReading("redhat-1.13-options", REDHAT_113_SYSCONFIG, "OPTIONS", "--selinux-enabled --log-driver=journald",
               ("--selinux-enabled", "--log-driver=journald"), "--selinux-enabled --log-driver=journald"),
    EnvReading("fedora-options", FEDORA_SYSCONFIG, "OPTIONS", "--selinux-enabled --log-driver=journald",
               ("--selinux-enabled", "--log-driver=journald"), "--selinux-enabled --log-driver=journald"),
    EnvReading("fedora-network-empty", FEDORA_NETWORK, "DOCKER_NETWORK_OPTIONS", "", (), ""),
    EnvReading("opensuse-docker-opts", OPENSUSE_SYSCONFIG, "DOCKER_OPTS",
               "-p /run/docker.pid -H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
               ("-p", "/run/docker.pid", "-H", "tcp://127.0.0.1:2375", "-H", "unix:///var/run/docker.sock"),
               "-p /run/docker.pid -H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock"),
    # Single quotes keep the leading blank for both.
    EnvReading("chef-single-quoted-leading-blank", CHEF_SYSCONFIG, "DOCKER_OPTS",
               " --host=tcp://0.0.0.0:2375 --host=unix:///var/run/docker.sock --graph=/local/docker"
               " --restart=false --storage-driver=btrfs",
               ("--host=tcp://0.0.0.0:2375", "--host=unix:///var/run/docker.sock", "--graph=/local/docker",
                "--restart=false", "--storage-driver=btrfs"),
               " --host=tcp://0.0.0.0:2375 --host=unix:///var/run/docker.sock --graph=/local/docker"
               " --restart=false --storage-driver=btrfs"),
    EnvReading("chef-double-quoted-leading-blank", CHEF_DEFAULT, "DOCKER_OPTS",
               " --host=unix:///var/run/docker.sock -r", ("--host=unix:///var/run/docker.sock", "-r"),
               " --host=unix:///var/run/docker.sock -r"),
    # They differ. Unquoted blanks: systemd keeps them inside the value; sh makes the
    # assignment a prefix of the command "-H" (not found), so the variable stays unset.
    EnvReading("unquoted-blanks-options", REDHAT_132_SYSCONFIG, "OPTIONS",
               "--selinux-enabled -H fd://", ("--selinux-enabled", "-H", "fd://"), None),
    EnvReading("unquoted-blanks-storage", REDHAT_STORAGE, "DOCKER_STORAGE_OPTIONS",
               "--storage-opt dm.fs=xfs", ("--storage-opt", "dm.fs=xfs"), None),
    EnvReading("unquoted-blanks-after-equals", CHEF_NETWORK, "DOCKER_NETWORK_OPTIONS",
               "--host=tcp://0.0.0.0:2375 --host=unix:///var/run/docker.sock",
               ("--host=tcp://0.0.0.0:2375", "--host=unix:///var/run/docker.sock"), None),
    # systemd expands no $VAR in the file and none in the value it substitutes.
    EnvReading("literal-dollar-word", REDHAT_130_SYSCONFIG, "OPTIONS",
               "--selinux-enabled -H fd:// $DOCKER_STORAGE_OPTIONS",
               ("--selinux-enabled", "-H", "fd://", "$DOCKER_STORAGE_OPTIONS"), None),
    EnvReading("self-reference", SELF_REFERENCE_DEFAULT, "DOCKER_OPTS",
               "${DOCKER_OPTS} -D -H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
               ("${DOCKER_OPTS}", "-D", "-H", "tcp://127.0.0.1:2375", "-H", "unix:///var/run/docker.sock"),
               " -D -H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock"),
    EnvReading("H-equals", H_EQUALS_DEFAULT, "DOCKER_OPTS",
               "-D -H=unix:///var/run/docker.sock -H=tcp://127.0.0.1:4243",
               ("-D", "-H=unix:///var/run/docker.sock", "-H=tcp://127.0.0.1:4243"),
               "-D -H=unix:///var/run/docker.sock -H=tcp://127.0.0.1:4243"),
]



def _reading_id(reading: ShellReading | EnvReading) -> str:
    return reading.name


@pytest.mark.parametrize("reading", SHELL_READINGS, ids=_reading_id)
def test_real_sh_reads_sourced_file(reading: ShellReading) -> None:
    assert sh_value(corpus_path(reading.file.relative), reading.variable) == reading.value


@pytest.mark.parametrize("reading", SHELL_READINGS, ids=_reading_id)
def test_dhconf_sh_reader_matches(reading: ShellReading) -> None:
    path = corpus_path(reading.file.relative)
    parsed = read_shell_variables(path.read_text(), f"/etc/{path.name}")
    assert parsed.values.get(reading.variable) == reading.value


@pytest.mark.parametrize("reading", ENV_READINGS, ids=_reading_id)
def test_real_sh_reads_environment_file(reading: EnvReading) -> None:
    assert sh_value(corpus_path(reading.file.relative), reading.variable) == reading.sh_value


@pytest.mark.parametrize("reading", ENV_READINGS, ids=_reading_id)
def test_dhconf_environment_file_reader_matches(reading: EnvReading) -> None:
    path = corpus_path(reading.file.relative)
    parsed = parse_environment_file(path.read_text(), f"/etc/{path.name}")
    assert parsed.values.get(reading.variable) == reading.systemd_value


@pytest.mark.parametrize("reading", ENV_READINGS, ids=_reading_id)
def test_dhconf_sh_reader_matches_environment_file(reading: EnvReading) -> None:
    path = corpus_path(reading.file.relative)
    parsed = read_shell_variables(path.read_text(), f"/etc/{path.name}")
    assert parsed.values.get(reading.variable) == reading.sh_value


@pytest.fixture(scope="module")
def systemd() -> Iterator[RealSystemd]:
    with real_systemd() as manager:
        yield manager


@pytest.mark.integration
@pytest.mark.parametrize("reading", ENV_READINGS, ids=_reading_id)
def test_real_systemd_reads_environment_file(reading: EnvReading, systemd: RealSystemd) -> None:
    value, words = systemd.read_environment_file(corpus_path(reading.file.relative), reading.variable)
    assert value == reading.systemd_value
    assert words == list(reading.words)
