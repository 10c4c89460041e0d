# Records every task result of a playbook run as one JSON line, for the tests.
#
# The default stdout callback keeps printing what a user reads; this one sits
# beside it, so a test can check both the screen and the structured result.

from __future__ import annotations

import json
import os
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: record_results
type: aggregate
short_description: write each task result as a JSON line to $DHCONF_ANSIBLE_RESULTS
description:
  - Used by dhconf's tests to read the module's return values.
"""

RESULTS_ENV = "DHCONF_ANSIBLE_RESULTS"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, status: str, result: Any) -> None:
        # ansible-core 2.19 hands callbacks a copy in .result; older releases only have ._result.
        values = getattr(result, "result", None)
        if values is None:
            values = result._result
        entry = {
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "status": status,
            "result": {key: value for key, value in values.items() if not key.startswith("_ansible")},
        }
        with open(os.environ[RESULTS_ENV], "a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry, default=str) + "\n")

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record("ok", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record("failed", result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._record("unreachable", result)
