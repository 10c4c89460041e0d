"""Variable files on which systemd's EnvironmentFile= and /bin/sh disagree, with both results.

``SECTION8_CASES`` rows are ``(name, file_text, variable, systemd_value,
sh_value_or_None)``. ``systemd_value`` is what systemd 254 and later put in
the unit's environment, or None when the variable is not set. It was derived
from systemd's src/basic/env-file.c, not from a running systemd, so a live
check against a real systemd can import this table. ``sh_value_or_None`` is
what dash 0.5.12 leaves in the variable after ``. file`` with
``HOME=CASE_HOME``, or None when sourcing fails and leaves it unset.
"""

from __future__ import annotations

CASE_HOME = "/root"

SECTION8_CASES: list[tuple[str, str, str, str | None, str | None]] = [
    (
        "01-double-quoted",
        'DOCKER_OPTS="-H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock"\n',
        "DOCKER_OPTS",
        "-H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
        "-H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
    ),
    (
        "02-export",
        'export DOCKER_OPTS="-H fd:// -H tcp://127.0.0.1:2375"\n',
        "DOCKER_OPTS",
        None,
        "-H fd:// -H tcp://127.0.0.1:2375",
    ),
    (
        "03-self-reference",
        'DOCKER_OPTS="-H fd://"\nDOCKER_OPTS="$DOCKER_OPTS -H tcp://127.0.0.1:2375"\n',
        "DOCKER_OPTS",
        "$DOCKER_OPTS -H tcp://127.0.0.1:2375",
        "-H fd:// -H tcp://127.0.0.1:2375",
    ),
    (
        "04-unquoted-blank",
        "DOCKER_OPTS=-H tcp://127.0.0.1:2375\n",
        "DOCKER_OPTS",
        "-H tcp://127.0.0.1:2375",
        None,
    ),
    (
        "05-trailing-comment",
        'DOCKER_OPTS="-H tcp://127.0.0.1:2375" # listen locally\n',
        "DOCKER_OPTS",
        "-H tcp://127.0.0.1:2375# listen locally",
        "-H tcp://127.0.0.1:2375",
    ),
    (
        "06-single-quote-escape",
        "DOCKER_OPTS='--label owner=it'\\''s'\n",
        "DOCKER_OPTS",
        "--label owner=it''s'",
        "--label owner=it's",
    ),
    (
        "07-blanks-around-equals",
        'DOCKER_OPTS = "-H tcp://127.0.0.1:2375"\n',
        "DOCKER_OPTS",
        "-H tcp://127.0.0.1:2375",
        None,
    ),
    (
        "08-semicolon",
        "DOCKER_OPTS=--dns=8.8.8.8;HTTP_PROXY=http://p:3128\n",
        "DOCKER_OPTS",
        "--dns=8.8.8.8;HTTP_PROXY=http://p:3128",
        "--dns=8.8.8.8",
    ),
    (
        "08-semicolon-second",
        "DOCKER_OPTS=--dns=8.8.8.8;HTTP_PROXY=http://p:3128\n",
        "HTTP_PROXY",
        None,
        "http://p:3128",
    ),
    (
        "09-crlf",
        'DOCKER_OPTS="-H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock"\r\n',
        "DOCKER_OPTS",
        "-H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock",
        "-H tcp://127.0.0.1:2375 -H unix:///var/run/docker.sock\r",
    ),
    (
        "10-two-quoted-strings",
        'DOCKER_OPTS="-H tcp://127.0.0.1:2375" "-H unix:///var/run/docker.sock"\n',
        "DOCKER_OPTS",
        "-H tcp://127.0.0.1:2375-H unix:///var/run/docker.sock",
        None,
    ),
    (
        "11-quotes-inside-unquoted",
        'DOCKER_OPTS=--label=foo"bar baz"\n',
        "DOCKER_OPTS",
        '--label=foo"bar baz"',
        "--label=foobar baz",
    ),
    (
        "12-braced-variable",
        'DOCKER_OPTS="--data-root ${HOME}/docker"\n',
        "DOCKER_OPTS",
        "--data-root ${HOME}/docker",
        f"--data-root {CASE_HOME}/docker",
    ),
    (
        "13-escapes-in-double-quotes",
        'DOCKER_OPTS="--label \\"quoted\\" --label a\\\\b"\n',
        "DOCKER_OPTS",
        '--label "quoted" --label a\\b',
        '--label "quoted" --label a\\b',
    ),
    (
        "14-escaped-quotes-around-blank",
        'DOCKER_OPTS="--label=\\"a b\\" -H tcp://127.0.0.1:2375"\n',
        "DOCKER_OPTS",
        '--label="a b" -H tcp://127.0.0.1:2375',
        '--label="a b" -H tcp://127.0.0.1:2375',
    ),
    (
        "15-command-substitution",
        "DOCKER_OPTS=$(echo -H tcp://127.0.0.1:2375)\n",
        "DOCKER_OPTS",
        "$(echo -H tcp://127.0.0.1:2375)",
        "-H tcp://127.0.0.1:2375",
    ),
    (
        "16-comment-ending-in-backslash",
        '# comment \\\nDOCKER_OPTS="-H fd://"\n',
        "DOCKER_OPTS",
        "-H fd://",
        "-H fd://",
    ),
]

# Variable files from the corpus, relative to the corpus directory. Each is
# read by an init script through /bin/sh, by systemd as an EnvironmentFile=,
# or by both, depending on the host.
CORPUS_ENV_FILES = [
    "debian/debian-docker.io-1.11.2-etc-default-docker",
    "debian/docker.io-0.9.1-etc-default-docker",
    "fedora/fedora-master-docker-1.12.2-6-sysconfig-docker",
    "fedora/fedora-master-docker-1.12.2-6-sysconfig-docker-network",
    "redhat/centos-virt7-docker-1.13.1-17-sysconfig-docker",
    "redhat/centos7-docker-1.3.0-3-sysconfig-docker",
    "redhat/centos7-docker-1.3.0-sysconfig-docker-storage",
    "redhat/centos7-docker-1.3.2-6-sysconfig-docker",
    "alpine/alpine-aports-docker.confd",
    "gentoo/gentoo-app-emulation-docker-r2.confd",
    "upstream/moby-v29.0.0-openrc-docker.confd",
    "upstream/moby-v29.0.0-sysvinit-debian-docker.default",
    "upstream/moby-v29.0.0-sysvinit-redhat-docker.sysconfig",
    "user-posted/azure-docker-extension-issue-21-etc-default-docker-no-scheme",
    "user-posted/moby-issue-18516-etc-default-docker-self-reference",
    "user-posted/moby-pr-2652-etc-default-docker-H-equals",
    "user-posted/sous-chefs-docker-issue-691-etc-default-docker",
    "user-posted/sous-chefs-docker-issue-273-sysconfig-docker",
    "user-posted/sous-chefs-docker-issue-273-sysconfig-docker-network",
    "user-posted/opensuse-sysconfig-docker-dockarium-readme",
]

# Init scripts from the corpus: shell programs, never sourced by the tests.
CORPUS_INIT_SCRIPTS = [
    "upstream/moby-v29.0.0-sysvinit-debian-docker.init",
    "upstream/moby-v29.0.0-sysvinit-redhat-docker.init",
]
