"""Restart the daemon through the service manager that starts it, and verify its bindings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from dhconf.errors import ProbeFailed
from dhconf.hosts import Host
from dhconf.platform import INIT_OPENRC, INIT_SYSTEMD, INIT_SYSVINIT

log = logging.getLogger(__name__)

# systemd's own default start timeout is 90 s; dockerd's TCP delay needs about 16 s of it.
DEFAULT_RESTART_TIMEOUT = 90.0


def service_manager(detection: Any) -> Any:
    """Return the manager for this host's init system."""
    init = detection.platform.init
    if init == INIT_SYSTEMD:
        from dhconf.service.base import connect

        return connect(detection.scope)
    if init == INIT_OPENRC:
        from dhconf.service.openrc import OpenrcManager

        return OpenrcManager(log_file=script_log_file(detection))
    from dhconf.service.sysv import SysvManager

    return SysvManager(log_file=script_log_file(detection))


def script_log_file(detection: Any) -> str | None:
    """Return the file where the init script sends dockerd's stderr, None where unknown.

    A failed start quotes its new lines, so the admin reads dockerd's own
    words ("address already in use"). Debian's /etc/init.d/docker and the
    OpenRC scripts (moby contrib/init, Alpine, Gentoo) take ``DOCKER_LOGFILE``
    from the file they source, default ``/var/log/<name>.log``. OpenRC's
    ``DOCKER_ERRFILE`` overrides it for stderr. Red Hat's SysV script sets
    ``logfile="/var/log/$prog"`` before it sources /etc/sysconfig/docker.
    """
    # Upstart 1.4 and later send a job's output to /var/log/upstart/<job>.log
    # unless the job sets another console. dhconf reads no job stanzas, so None.
    if detection.platform.init not in (INIT_SYSVINIT, INIT_OPENRC) or detection.script_options is None:
        return None
    path = detection.script_options[0]
    parsed = detection.variable_files.get(path)
    values = dict(parsed.values) if parsed is not None else {}
    if path.startswith("/etc/sysconfig/"):
        names, default = ("logfile",), f"/var/log/{detection.service}"
    elif detection.platform.init == INIT_OPENRC:
        names, default = ("DOCKER_ERRFILE", "DOCKER_LOGFILE"), f"/var/log/{detection.service}.log"
    else:
        names, default = ("DOCKER_LOGFILE",), f"/var/log/{detection.service}.log"
    return next((values[name] for name in names if values.get(name)), default)


def unit_name(detection: Any) -> str:
    if detection.platform.init == INIT_SYSTEMD:
        return f"{detection.service}.service"
    return detection.service


def restart_daemon(detection: Any, unit_changed: bool, timeout: float | None) -> dict[str, Any]:
    """Reload (after unit changes), reset the failed state, restart; return what happened."""
    manager = service_manager(detection)
    unit = unit_name(detection)
    try:
        if unit_changed:
            manager.reload(unit)
        manager.reset_failed(unit)
        if detection.socket is not None:
            manager.reset_failed(detection.socket.name)
        state = manager.restart(unit, timeout=timeout or DEFAULT_RESTART_TIMEOUT)
    finally:
        manager.close()
    return {
        "unit": unit,
        "manager": type(manager).__name__,
        "reloaded": unit_changed,
        "active_state": state.active_state,
        "sub_state": state.sub_state,
        "result": state.result,
    }


def fd_socket_path(detection: Any) -> str | None:
    if detection.socket is None:
        return None
    return next((path for path in detection.socket.listen_streams if path.startswith("/")), None)


def verify_hosts(
    detection: Any,
    hosts: Sequence[Host],
    timeout: float | None,
    tls: Any,
    notify: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Probe every host, and raise ProbeFailed naming each one that did not respond."""
    from dhconf.probe import default_deadline, probe_hosts

    deadline = timeout or default_deadline(hosts, tls)
    results = probe_hosts(hosts, tls=tls, deadline=deadline, fd_socket=fd_socket_path(detection), on_wait=notify)
    documents = [result.to_json() for result in results]
    failed = [result for result in results if not result.ok]
    if failed:
        reasons = "; ".join(f"{result.host}: {result.error}" for result in failed)
        raise ProbeFailed(f"the daemon does not respond on every binding: {reasons}", verify=documents)
    return documents
