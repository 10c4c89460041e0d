"""The collection's documentation against what the module really takes and returns."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from dhconf.request import VIA_CHOICES
from tests.ansible.playbook_run import COLLECTION_SOURCE, MODULE, Ansible, module_task

MODULE_SOURCE = COLLECTION_SOURCE / "plugins" / "modules" / "docker_hosts.py"
EXAMPLE_PLAYBOOKS = sorted((COLLECTION_SOURCE / "examples").glob("*.yml"))

# Keys that Ansible itself adds to or takes from every module result.
ANSIBLE_KEYS = {"invocation", "diff", "warnings", "deprecations", "msg", "failed", "exception"}


def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dhconf_docker_hosts_module", MODULE_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _option_shape(option: dict[str, Any]) -> tuple[Any, ...]:
    return (
        option["type"],
        option.get("elements"),
        option.get("choices"),
        option.get("default"),
        option.get("required", False),
    )


def test_documented_options_match_spec(ansible: Ansible) -> None:
    documented = ansible.doc()["doc"]["options"]
    spec = load_module().ARGUMENT_SPEC

    assert {name: _option_shape(option) for name, option in documented.items()} == {
        name: _option_shape(option) for name, option in spec.items()
    }


def test_via_choices_match_library() -> None:
    assert load_module().ARGUMENT_SPEC["via"]["choices"] == list(VIA_CHOICES)


def test_every_returned_key_is_documented(ansible: Ansible, tree: Path) -> None:
    documented = set(ansible.doc()["return"])
    run = ansible.play([module_task("add TCP", root=str(tree), hosts=["tcp://127.0.0.1:2375"])], diff=True)
    failed = ansible.play([module_task("bad", root=str(tree), hosts=["tcp://h:0"])])

    returned = set(run.result()["result"]) | set(failed.result()["result"])

    assert returned - ANSIBLE_KEYS - documented == set()


def _module_params(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for task in tasks:
        for key in (MODULE, "docker_hosts"):
            if key in task:
                found.append(task[key])
        found.extend(_module_params(task.get("block", [])))
    return found


def _playbook_tasks(path: Path) -> list[dict[str, Any]]:
    return [task for play in yaml.safe_load(path.read_text()) for task in play.get("tasks", [])]


def _readme_playbook() -> list[dict[str, Any]]:
    text = (COLLECTION_SOURCE / "README.md").read_text()
    blocks = re.findall(r"(?m)^ {4}---\n(?:^(?: {4}.*)?\n)+", text)
    assert len(blocks) == 1, "the README should hold one indented playbook starting with ---"
    return yaml.safe_load("\n".join(line[4:] for line in blocks[0].splitlines()))


@pytest.mark.parametrize(
    "source",
    ["EXAMPLES", "README.md", *(path.name for path in EXAMPLE_PLAYBOOKS)],
)
def test_examples_use_documented_options_only(ansible: Ansible, source: str) -> None:
    if source == "EXAMPLES":
        tasks = yaml.safe_load(load_module().EXAMPLES)
    elif source == "README.md":
        tasks = [task for play in _readme_playbook() for task in play["tasks"]]
    else:
        tasks = _playbook_tasks(COLLECTION_SOURCE / "examples" / source)
    options = set(ansible.doc()["doc"]["options"])

    used = _module_params(tasks)

    assert used, f"{source} shows no {MODULE} task"
    assert [set(params) - options for params in used] == [set() for _ in used]


def test_readme_playbook_matches_example() -> None:
    assert _readme_playbook() == yaml.safe_load((COLLECTION_SOURCE / "examples" / "loopback-tcp.yml").read_text())


@pytest.mark.parametrize("playbook", EXAMPLE_PLAYBOOKS, ids=lambda path: path.name)
def test_example_playbooks_pass_syntax_check(ansible: Ansible, playbook: Path) -> None:
    run = ansible.run_playbook(playbook, extra=["--syntax-check"])

    assert run.returncode == 0, run
