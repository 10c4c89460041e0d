"""OpenRC services through ``rc-service NAME VERB``.

Same contract as the SysV manager; only the command and the meaning of the
``status`` exit codes differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from dhconf.service.sysv import SETTLE_SECONDS, InitScriptManager, script_name

# Exit codes of `rc-service NAME status`, from _status() in OpenRC's
# sh/openrc-run.sh.
_OPENRC_STATES: Mapping[int, tuple[str, str, str]] = {
    0: ("active", "running", "success"),  # started
    3: ("inactive", "dead", "success"),  # stopped
    4: ("deactivating", "stop", "success"),  # stopping
    8: ("activating", "start", "success"),  # starting
    16: ("inactive", "dead", "success"),  # inactive
    32: ("failed", "dead", "exit-code"),  # crashed: started, but the daemon is gone
}


class OpenrcManager(InitScriptManager):
    """An OpenRC service, such as Alpine's and Gentoo's ``docker``."""

    name = "OpenRC service"
    status_states = _OPENRC_STATES

    def __init__(self, *, log_file: str | None = None, settle: float = SETTLE_SECONDS,
                 rc_service: str = "rc-service") -> None:
        super().__init__(log_file=log_file, settle=settle)
        self.rc_service = rc_service

    def command(self, unit: str, verb: str) -> list[str]:
        return [self.rc_service, script_name(unit), verb]
