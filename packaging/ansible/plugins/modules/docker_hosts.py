#!/usr/bin/python
# Copyright: the dhconf authors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_hosts
short_description: Manage where the Docker daemon listens (its -H/--host bindings)
version_added: "0.1.0"
description:
  - Sets, adds or removes the Docker daemon's C(-H)/C(--host) bindings, such as
    C(unix:///var/run/docker.sock), C(tcp://127.0.0.1:2376) or C(fd://).
  - The module calls the dhconf Python library on the managed host. dhconf finds out how
    dockerd is started there (a systemd unit with its drop-ins and environment files,
    C(/etc/default/docker), C(/etc/sysconfig/docker), OpenRC's C(/etc/conf.d/docker),
    C(daemon.json), C(docker.socket)) and writes the bindings in the place that takes effect.
  - After a change it restarts the daemon through its service manager and calls
    C(GET /_ping) and C(GET /info) on every binding. When that proof fails, it restores the
    previous files, restarts the daemon again and fails the task with O(rolled_back) set.
  - Changing the bindings needs a full restart of dockerd, which stops running containers
    unless C(live-restore) is on in C(daemon.json).
  - Plain TCP on an address other than loopback is refused unless O(tlsverify) or
    O(allow_insecure_tcp) is given, because anyone who reaches that port gets root on the host.
author:
  - dhconf authors
requirements:
  - Python 3.11 or later on the managed host, with the C(dhconf) library (C(pip install dhconf));
    C(pip install 'dhconf[dbus]') adds dbus-python, so that systemd is driven over D-Bus
    rather than through C(systemctl).
options:
  hosts:
    description:
      - The bindings, as dockerd's C(-H) takes them.
      - dhconf normalizes them as dockerd does, so C(tcp://:2375) and C(tcp://localhost:2375) are one binding.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) adds O(hosts) to the bindings the daemon has now.
      - V(absent) removes O(hosts) from them; removing every binding is refused.
      - V(exact) replaces all bindings with O(hosts).
    type: str
    choices: [present, absent, exact]
    default: present
  via:
    description:
      - Where to write the bindings. V(auto) picks the place that takes effect for the way
        dockerd is started on this host.
      - V(env-file) edits the variable that the unit or init script reads from its environment file,
        V(dropin) writes C(/etc/systemd/system/docker.service.d/dhconf.conf),
        V(unit) edits the unit file itself, V(daemon-json) writes C(hosts) in C(daemon.json).
    type: str
    choices: [auto, env-file, dropin, unit, daemon-json]
    default: auto
  tlsverify:
    description:
      - Make dockerd require TLS client certificates on its TCP bindings (C(--tlsverify)).
      - Needs O(tlscacert), O(tlscert) and O(tlskey).
    type: bool
    default: false
  tlscacert:
    description:
      - Absolute path on the managed host of the CA certificate that dockerd trusts for clients.
      - Also verifies the daemon's certificate when the module probes TLS bindings.
    type: path
  tlscert:
    description:
      - Absolute path on the managed host of dockerd's server certificate.
    type: path
  tlskey:
    description:
      - Absolute path on the managed host of dockerd's server key. It must be readable by its owner only (mode 0600).
    type: path
  client_cert:
    description:
      - Client certificate that the module presents when it probes TLS bindings.
    type: path
  client_key:
    description:
      - Key of O(client_cert).
    type: path
  allow_insecure_tcp:
    description:
      - Allow plain TCP without TLS on an address other than loopback. dhconf then renders
        C(--tls=false), so that dockerd starts without its 15 second warning delay.
    type: bool
    default: false
  restart:
    description:
      - Restart the daemon after writing the files. With V(false) the files are written and
        the daemon keeps its old bindings until it restarts.
    type: bool
    default: true
  verify:
    description:
      - After the restart, call C(GET /_ping) and C(GET /info) on every binding and roll back when one does not answer.
    type: bool
    default: true
  timeout:
    description:
      - Deadline in seconds for the restart and for each verification.
      - By default dhconf allows for dockerd's start delay on plain TCP.
    type: float
  root:
    description:
      - Read and write a host tree mounted at this directory (an image, a chroot) instead of
        the managed host's own C(/). With a root other than C(/), nothing is restarted.
    type: path
    default: /
  scope:
    description:
      - V(system) manages the system's dockerd. V(user) manages a per-user (rootless) dockerd
        through the user's systemd manager and C($XDG_CONFIG_HOME/systemd/user); its journal
        lives under C($XDG_STATE_HOME/dhconf).
    type: str
    choices: [system, user]
    default: system
  unit:
    description:
      - The name of the daemon's service, when it is not C(docker).
    type: str
attributes:
  check_mode:
    description: Runs the same detection and planning, writes nothing and reports whether anything would change.
    support: full
  diff_mode:
    description: Returns the old and new text of every file that changes or would change.
    support: full
  platform:
    description: Linux hosts with systemd, SysV init, upstart or OpenRC.
    platforms: posix
notes:
  - The module runs dhconf's transaction under a lock and keeps a journal of the previous
    files in C(/var/lib/dhconf) (C($XDG_STATE_HOME/dhconf) with O(scope=user)). C(dhconf rollback)
    on the managed host restores the last change.
  - dhconf's own messages name its command line options, such as C(--tlsverify) for O(tlsverify).
seealso:
  - name: dhconf
    description: The command line tool and library behind this module.
    link: https://pypi.org/project/dhconf/
"""

EXAMPLES = r"""
- name: Add a TCP binding on loopback next to the daemon's current ones
  dhconf.docker_hosts.docker_hosts:
    hosts:
      - tcp://127.0.0.1:2375

- name: Serve the API on every address with mutual TLS, and nothing else but the local socket
  dhconf.docker_hosts.docker_hosts:
    state: exact
    hosts:
      - unix:///var/run/docker.sock
      - tcp://0.0.0.0:2376
    tlsverify: true
    tlscacert: /etc/docker/tls/ca.pem
    tlscert: /etc/docker/tls/server-cert.pem
    tlskey: /etc/docker/tls/server-key.pem
    client_cert: /etc/docker/tls/client-cert.pem
    client_key: /etc/docker/tls/client-key.pem

- name: Stop serving TCP
  dhconf.docker_hosts.docker_hosts:
    state: absent
    hosts:
      - tcp://127.0.0.1:2375

- name: Prepare an image tree without restarting anything
  dhconf.docker_hosts.docker_hosts:
    root: /mnt/image
    state: exact
    hosts:
      - fd://
      - tcp://127.0.0.1:2375

- name: A rootless docker of the connecting user
  dhconf.docker_hosts.docker_hosts:
    scope: user
    hosts:
      - tcp://127.0.0.1:2375
  register: bindings

- name: Show what answered on each binding
  ansible.builtin.debug:
    msg: "{{ item.host }}: {{ item.server_version if item.ok else item.error }}"
  loop: "{{ bindings.verify }}"
"""

RETURN = r"""
changed:
  description:
    - Whether any file changed (or would change in check mode).
    - A failed task with O(rolled_back) true reports V(true) as well, since the daemon was restarted twice.
  returned: always
  type: bool
dry_run:
  description: Whether the module ran in check mode.
  returned: success
  type: bool
via:
  description: Where the bindings were written; one of the O(via) choices other than V(auto).
  returned: success
  type: str
  sample: dropin
hosts:
  description: The daemon's bindings before and after, normalized as dockerd normalizes them.
  returned: success, and on a failure after planning
  type: dict
  contains:
    before:
      description: The bindings that took effect before the change.
      type: list
      elements: str
      sample: ["fd://"]
    after:
      description: The bindings after the change (in check mode, the bindings it would make).
      type: list
      elements: str
      sample: ["fd://", "tcp://127.0.0.1:2375"]
files:
  description: Each file that changed or would change.
  returned: success, and on a failure after planning
  type: list
  elements: dict
  contains:
    path:
      description: The path on the managed host (also with O(root)).
      type: str
      sample: /etc/systemd/system/docker.service.d/dhconf.conf
    action:
      description: V(create), V(update) or V(delete).
      type: str
    reason:
      description: Why dhconf changes this file.
      type: str
    diff:
      description: A unified diff of the change.
      type: str
restart:
  description: What the service manager did; null when the daemon was not restarted.
  returned: success
  type: dict
  contains:
    unit:
      description: The service that was restarted.
      type: str
      sample: docker.service
    manager:
      description: The service manager dhconf used.
      type: str
    reloaded:
      description: Whether the manager reloaded its units first.
      type: bool
    active_state:
      description: The service's state after the restart.
      type: str
      sample: active
    sub_state:
      description: The service's sub-state after the restart.
      type: str
      sample: running
    result:
      description: The manager's result of the restart.
      type: str
verify:
  description:
    - One entry per binding probed with C(GET /_ping) and C(GET /info) after the restart.
    - After a rollback, the probes of the old bindings.
  returned: success, when the daemon was restarted and O(verify) is true
  type: list
  elements: dict
  contains:
    host:
      description: The binding.
      type: str
      sample: tcp://127.0.0.1:2375
    ok:
      description: Whether the daemon responded on it.
      type: bool
    server_version:
      description: C(ServerVersion) from C(/info).
      type: str
      sample: 20.10.24+dfsg1
    id:
      description: C(ID) from C(/info).
      type: str
    name:
      description: C(Name) from C(/info).
      type: str
    api_version:
      description: The API version of the daemon's response.
      type: str
    latency_ms:
      description: How long C(GET /info) took, in milliseconds.
      type: float
    attempts:
      description: How many attempts it took.
      type: int
    error:
      description: Why the binding did not respond.
      type: str
rolled_back:
  description: Whether a failed restart or verification was undone; the task fails when it was.
  returned: always
  type: bool
journal:
  description: The directory that contains the backups of this change.
  returned: when files were written
  type: str
findings:
  description: What dhconf noticed; warnings are also shown as Ansible warnings.
  returned: success, and on a failure after planning
  type: list
  elements: dict
  contains:
    code:
      description: A stable code, such as V(not_restarted) or V(insecure_tcp_allowed).
      type: str
    severity:
      description: V(error), V(warning) or V(info).
      type: str
    message:
      description: The finding in words.
      type: str
    path:
      description: The file it is about, where there is one.
      type: str
    line:
      description: The line it is about, where there is one.
      type: int
messages:
  description: Progress messages from dhconf, such as the wait for a binding or the start of a rollback.
  returned: always
  type: list
  elements: str
code:
  description: dhconf's stable error code, such as V(invalid_host), V(insecure_tcp) or V(rolled_back).
  returned: failure
  type: str
details:
  description:
    - What else dhconf tells about the error, such as the rejected C(value) or the C(journal)
      that contains the backups after a failed rollback.
  returned: failure
  type: dict
  sample: {"value": "tcp://h:0"}
"""

import logging
import sys
import traceback

from ansible.module_utils.basic import AnsibleModule

try:
    from dhconf.errors import DhconfError, RolledBack
    from dhconf.operations import change_hosts
except ImportError:
    DHCONF_IMPORT_ERROR = traceback.format_exc()
else:
    DHCONF_IMPORT_ERROR = None

MODES = {"present": "add", "absent": "remove", "exact": "set"}

ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str", "required": True},
    "state": {"type": "str", "choices": list(MODES), "default": "present"},
    "via": {"type": "str", "choices": ["auto", "env-file", "dropin", "unit", "daemon-json"], "default": "auto"},
    "tlsverify": {"type": "bool", "default": False},
    "tlscacert": {"type": "path"},
    "tlscert": {"type": "path"},
    "tlskey": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path"},
    "allow_insecure_tcp": {"type": "bool", "default": False},
    "restart": {"type": "bool", "default": True},
    "verify": {"type": "bool", "default": True},
    "timeout": {"type": "float"},
    "root": {"type": "path", "default": "/"},
    "scope": {"type": "str", "choices": ["system", "user"], "default": "system"},
    "unit": {"type": "str"},
}


class _WarningsToAnsible(logging.Handler):
    """Show what the dhconf library logs at WARNING or above as Ansible warnings."""

    def __init__(self, module: AnsibleModule) -> None:
        super().__init__(logging.WARNING)
        self.module = module

    def emit(self, record: logging.LogRecord) -> None:
        self.module.warn(f"dhconf: {record.getMessage()}")


def missing_dhconf_message() -> str:
    return (
        f"the dhconf Python library cannot be imported by {sys.executable} on this host. "
        f"Install it there with '{sys.executable} -m pip install dhconf' (pip install dhconf), "
        "or set ansible_python_interpreter to a Python 3.11+ that has it."
    )


def probe_tls(params: dict) -> object:
    """Return the client TLS files for probing the bindings, or None when none were given."""
    if not (params["tlscacert"] or params["client_cert"] or params["client_key"]):
        return None
    from dhconf.probe import TlsFiles

    return TlsFiles(cacert=params["tlscacert"] or "", cert=params["client_cert"], key=params["client_key"])


def ansible_diff(planned: dict) -> dict:
    """Turn one planned file change into an entry of Ansible's diff list."""
    before, after = planned["before"], planned["after"]
    return {
        "before": before or "",
        "after": after or "",
        "before_header": planned["path"] if before is not None else "/dev/null",
        "after_header": planned["path"] if after is not None else "/dev/null",
    }


def change(module: AnsibleModule, messages: list) -> dict:
    """Run dhconf's transaction with the module's parameters; return the outcome with the diff."""
    params = module.params
    planned: list = []
    outcome = change_hosts(
        mode=MODES[params["state"]],
        hosts=params["hosts"],
        root=params["root"],
        scope=params["scope"],
        unit=params["unit"],
        via=params["via"],
        tlsverify=params["tlsverify"],
        tlscacert=params["tlscacert"],
        tlscert=params["tlscert"],
        tlskey=params["tlskey"],
        allow_insecure_tcp=params["allow_insecure_tcp"],
        dry_run=module.check_mode,
        restart=params["restart"],
        verify=params["verify"],
        timeout=params["timeout"],
        probe_tls=probe_tls(params),
        notify=messages.append,
        on_plan=planned.extend if module._diff else None,
    )
    result = outcome.to_json()
    if module._diff:
        result["diff"] = [ansible_diff(entry) for entry in planned]
    return result


def failure(err: DhconfError, messages: list) -> dict:
    """Return the fail_json arguments for a dhconf error: its message, code and any outcome it carries."""
    details = dict(err.details)
    outcome = details.pop("outcome", None) or {"changed": False}
    return {
        **outcome,
        "msg": err.message,
        "code": err.code,
        "details": details,
        "rolled_back": isinstance(err, RolledBack),
        "messages": messages,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("tlsverify", True, ("tlscacert", "tlscert", "tlskey"))],
        required_together=[("client_cert", "client_key")],
    )
    if DHCONF_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_dhconf_message(), exception=DHCONF_IMPORT_ERROR)

    messages: list = []
    handler = _WarningsToAnsible(module)
    library_log = logging.getLogger("dhconf")
    library_log.addHandler(handler)
    try:
        result = change(module, messages)
    except DhconfError as err:
        module.fail_json(**failure(err, messages))
    except Exception as err:  # noqa: BLE001 - one failed task with the traceback beats a MODULE FAILURE
        module.fail_json(
            msg=f"internal error in dhconf: {type(err).__name__}: {err}",
            exception=traceback.format_exc(),
            messages=messages,
        )
    finally:
        library_log.removeHandler(handler)

    for finding in result["findings"]:
        if finding["severity"] == "warning":
            module.warn(f"dhconf: {finding['message']}")
    module.exit_json(**result, messages=messages)


if __name__ == "__main__":
    main()
