"""systemd units from the corpus, with the ExecStart argv read from each file by hand.

tests/sources/test_unit.py loads them from host trees under tmp_path, and
tests/integration/test_unit_live.py loads them into a live systemd user
manager. Both compare the result with these tables.
"""

from __future__ import annotations

from tests.trees import corpus_path

STOCK = "upstream/moby-v29.0.0-docker.service"
STOCK_ARGV = ("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock")
SPACES = " " * 12  # a backslash-continued line: the space before "\", the "\" itself, ten blanks of indent


def corpus_text(name: str) -> str:
    """Return a corpus file's text with its line ends as they are (CR LF stays CR LF)."""
    with open(corpus_path(name), encoding="utf-8", newline="") as file:
        return file.read()


# (corpus file, ExecStart argv after resets, finding codes)
CORPUS_SERVICES = [
    ("upstream/docker-ce-packaging-pr221-docker.service",
     [("/usr/bin/dockerd", "--containerd", "/run/containerd/containerd.sock", "--default-runtime", "containerd",
       "--add-runtime", "containerd=runc")], set()),
    ("upstream/docker-ce-packaging-pr222-docker.service",
     [("/usr/bin/dockerd", "-H", "unix://", "--containerd", "/run/containerd/containerd.sock",
       "--default-runtime", "containerd", "--add-runtime", "containerd=runc")], set()),
    ("upstream/docker-ce-packaging-v18.09.0-docker.service", [("/usr/bin/dockerd", "-H", "unix://")], set()),
    ("upstream/moby-pr13415-systemd-redhat-docker.service",
     [("/usr/bin/docker", "-d", "$DOCKER_OPTIONS", "$DOCKER_STORAGE_OPTIONS")], set()),
    ("upstream/moby-v1.3.0-docker.service", [("/usr/bin/docker", "-d", "-H", "fd://")], set()),
    ("upstream/moby-v17.06-docker.service", [("/usr/bin/dockerd", "-H", "fd://")], set()),
    (STOCK, [STOCK_ARGV], set()),
    ("upstream/moby-v20.10.0-docker.service.rpm", [("/usr/bin/dockerd",)], set()),
    ("ubuntu/ubuntu-docker.io-20.10.21-0ubuntu3-docker.service",
     [("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock")], set()),
    ("redhat/centos-virt7-docker-1.13.1-10-docker.service",
     [("/usr/bin/dockerd-current", "--add-runtime", "oci=/usr/libexec/docker/docker-runc-current",
       "--default-runtime=oci", "--authorization-plugin=rhel-push-plugin", "--containerd", "/run/containerd.sock",
       "--exec-opt", "native.cgroupdriver=systemd", "--userland-proxy-path=/usr/libexec/docker/docker-proxy-current",
       "--init-path=/usr/libexec/docker/docker-init-current", "$OPTIONS", "$DOCKER_STORAGE_OPTIONS",
       "$DOCKER_NETWORK_OPTIONS", "$ADD_REGISTRY", "$BLOCK_REGISTRY", "$INSECURE_REGISTRY", "$REGISTRIES")], set()),
    ("redhat/centos7-docker-0.11.1-16-docker.service",
     [("/usr/bin/docker", "-d", "--selinux-enabled", "-H", "fd://")], set()),
    ("redhat/centos7-docker-1.3.2-6-docker.service",
     [("/usr/bin/docker", "-d", "$OPTIONS", "$DOCKER_STORAGE_OPTIONS")], set()),
    ("redhat/centos7-docker-1.9.1-33-docker.service",
     [("/bin/sh", "-c", SPACES.join([
         "/usr/bin/docker-current daemon $OPTIONS", "$DOCKER_STORAGE_OPTIONS", "$DOCKER_NETWORK_OPTIONS",
         "$ADD_REGISTRY", "$BLOCK_REGISTRY", "$INSECURE_REGISTRY", "2>&1 | /usr/bin/forward-journald -tag docker"]))],
     set()),
    ("fedora/fedora-master-docker-1.12.2-6-docker.service",
     [("/usr/bin/dockerd-current", "--add-runtime", "oci=/usr/libexec/docker/docker-runc-current",
       "--default-runtime=oci", "--containerd", "/run/containerd.sock", "--exec-opt", "native.cgroupdriver=systemd",
       "--userland-proxy-path=/usr/libexec/docker/docker-proxy-current", "$OPTIONS", "$DOCKER_STORAGE_OPTIONS",
       "$DOCKER_NETWORK_OPTIONS", "$ADD_REGISTRY", "$BLOCK_REGISTRY", "$INSECURE_REGISTRY")], set()),
    ("fedora/fedora22-docker-1.7.0-4-docker.service",
     [("/usr/bin/docker", "-d", "$OPTIONS", "$DOCKER_STORAGE_OPTIONS", "$DOCKER_NETWORK_OPTIONS",
       "$INSECURE_REGISTRY")], set()),
    ("fedora/fedora23-docker-1.10.3-32-docker.service",
     [("/bin/sh", "-c", SPACES.join([
         "/usr/bin/docker daemon", "--exec-opt native.cgroupdriver=systemd", "$OPTIONS", "$DOCKER_STORAGE_OPTIONS",
         "$DOCKER_NETWORK_OPTIONS", "$INSECURE_REGISTRY", "2>&1 | /usr/bin/forward-journald -tag docker"]))], set()),
    ("arch/arch-docker-1.11.1-1-docker.service", [("/usr/bin/docker", "daemon", "-H", "fd://")], set()),
    ("arch/aur-docker-rootless-user-docker.service", [("/usr/bin/dockerd-rootless.sh", "$DOCKERD_FLAGS")], set()),
    ("suse/opensuse-leap-2018-docker.service",
     [("/usr/bin/dockerd", "--containerd", "/run/containerd/containerd.sock", "--add-runtime",
       "oci=/usr/sbin/docker-runc", "$DOCKER_NETWORK_OPTIONS", "$DOCKER_OPTS")], set()),
    ("suse/opensuse-tumbleweed-2018-docker.service",
     [("/usr/bin/dockerd", "--add-runtime", "oci=/usr/sbin/docker-runc", "$DOCKER_NETWORK_OPTIONS",
       "$DOCKER_OPTS")], set()),
    ("gentoo/gentoo-app-emulation-docker.service", [("/usr/bin/docker", "-d")], set()),
    ("rootless/debian-docker.io-rootless-user-docker.service-hand-edited",
     [("/usr/share/docker.io/contrib/dockerd-rootless.sh",)], set()),
    ("rootless/docker-install-issue-208-system-unit-su-dockerd-rootless.service",
     [("/usr/bin/su", "-c", "/home/docker/bin/dockerd-rootless.sh", "-", "docker")], set()),
    ("rootless/setuptool-generated-user-docker.service-requires-dbus", [("/usr/bin/dockerd-rootless.sh",)], set()),
    ("user-posted/binary-install-docker.service-broken-continuation",
     [("/usr/local/bin/dockerd", "--graph=/data/docker")], {"unit_broken_continuation"}),
    ("user-posted/centos7-docker-ce-18.06-docker.service-edited-tcp2375",
     [("/usr/bin/dockerd", "-H", "tcp://0.0.0.0:2375", "-H", "unix:///var/run/docker.sock")], set()),
    ("user-posted/coreos-899-docker.service-quoted-in-docker-machine-pr3392",
     [("/usr/lib/coreos/dockerd", "daemon", "--host=fd://", "$DOCKER_OPTS", "$DOCKER_OPT_BIP", "$DOCKER_OPT_MTU",
       "$DOCKER_OPT_IPMASQ")], set()),
    ("user-posted/docker-machine-generated-docker.service-no-unit-section",
     [("/usr/bin/docker", "daemon", "-H", "tcp://0.0.0.0:2376", "-H", "unix:///var/run/docker.sock",
       "--storage-driver", "devicemapper", "--tlsverify", "--tlscacert", "/etc/docker/ca.pem", "--tlscert",
       "/etc/docker/server.pem", "--tlskey", "/etc/docker/server-key.pem", "--label", "provider=generic")], set()),
    ("user-posted/docker.service-docker-daemon-opts-before-fd",
     [("/usr/bin/docker", "daemon", "$DOCKER_OPTS", "-H", "fd://")], set()),
    ("user-posted/ubuntu-docker.service-docker-daemon-default-opts",
     [("/usr/bin/docker", "daemon", "-H", "fd://", "$DOCKER_OPTS")], set()),
    ("user-posted/service-section-fragment-unix-two-slashes",
     [("/usr/bin/dockerd", "-H", "tcp://0.0.0.0:2375", "-H", "unix://var/run/docker.sock")], set()),
]

# Drop-ins, each applied over the stock unit in /lib/systemd/system.
CORPUS_DROPINS = [
    ("upstream/docker-docs-remote-access-override.conf",
     [("/usr/bin/dockerd", "-H", "fd://", "-H", "tcp://127.0.0.1:2375")]),
    ("upstream/moby-docs-v1.10.0-dropin-graph-storage.conf",
     [("/usr/bin/docker", "daemon", "-H", "fd://", "--graph=/mnt/docker-data", "--storage-driver=overlay")]),
    ("upstream/moby-docs-v1.10.0-dropin-sysconfig-compat.conf",
     [("/usr/bin/docker", "daemon", "-H", "fd://", "$OPTIONS", "$DOCKER_STORAGE_OPTIONS", "$DOCKER_NETWORK_OPTIONS",
       "$BLOCK_REGISTRY", "$INSECURE_REGISTRY")]),
    ("user-posted/docker-machine-issue-4129-10-machine.conf",
     [("/usr/bin/docker", "daemon", "-H", "tcp://0.0.0.0:2376", "-H", "unix:///var/run/docker.sock",
       "--storage-driver", "aufs", "--tlsverify", "--tlscacert", "/etc/docker/ca.pem", "--tlscert",
       "/etc/docker/server.pem", "--tlskey", "/etc/docker/server-key.pem", "--label", "provider=generic")]),
    ("user-posted/moby-issue-38119-override.conf", [("/usr/bin/dockerd",)]),
    ("user-posted/moby-issue-9889-dropin-relative-docker-ellipsis.conf", [("docker", "-d", "$DOCKER_OPTS", "...")]),
    ("rootless/user-docker.service.d-override.conf-env-only", [STOCK_ARGV]),
]

CORPUS_SOCKETS = [
    ("upstream/moby-v29.0.0-docker.socket", ["/run/docker.sock"]),
    ("ubuntu/ubuntu-docker.io-20.10.21-0ubuntu3-docker.socket", ["/var/run/docker.sock"]),
]
