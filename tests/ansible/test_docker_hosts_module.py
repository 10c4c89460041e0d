"""The docker_hosts module run by the real ansible-playbook on --root host trees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dhconf.errors import DhconfError
from dhconf.operations import change_hosts
from tests.ansible.playbook_run import DROPIN, Ansible, make_upstream_tree, module_task, snapshot

TCP = "tcp://127.0.0.1:2375"
EXEC_WITH_TCP = (
    "ExecStart=/usr/bin/dockerd -H fd:// -H tcp://127.0.0.1:2375 --containerd=/run/containerd/containerd.sock"
)
MODES = {"exact": "set", "present": "add", "absent": "remove"}

# ansible-playbook's exit status when a task failed on a host.
ANSIBLE_HOST_FAILED = 2


def codes(result: dict[str, Any]) -> list[str]:
    return [finding["code"] for finding in result["findings"]]


def test_check_diff_writes_nothing(ansible: Ansible, tree: Path) -> None:
    paths_before = sorted(tree.rglob("*"))
    files_before = snapshot(tree)

    run = ansible.play([module_task("add TCP", root=str(tree), hosts=[TCP])], check=True, diff=True)

    assert run.returncode == 0, run
    assert f"+++ after: {DROPIN}" in run.stdout, run
    assert f"+{EXEC_WITH_TCP}" in run.stdout, run
    assert run.recap()["localhost"]["changed"] == 1, run
    result = run.result()["result"]
    assert result["dry_run"] is True
    assert [(entry["before_header"], entry["after_header"], entry["before"]) for entry in result["diff"]] == [
        ("/dev/null", DROPIN, "")
    ]
    assert EXEC_WITH_TCP in result["diff"][0]["after"].splitlines()
    assert sorted(tree.rglob("*")) == paths_before
    assert snapshot(tree) == files_before


def test_check_diff_matches_written_file(ansible: Ansible, tree: Path) -> None:
    task = module_task("add TCP", root=str(tree), hosts=[TCP])
    preview = ansible.play([task], check=True, diff=True)
    assert preview.returncode == 0, preview

    applied = ansible.play([task])

    assert applied.returncode == 0, applied
    assert (tree / DROPIN.lstrip("/")).read_text() == preview.result()["result"]["diff"][0]["after"]


def test_real_run_reports_changed_then_ok(ansible: Ansible, tree: Path) -> None:
    task = module_task("add TCP", root=str(tree), hosts=[TCP])

    first = ansible.play([task])

    assert first.returncode == 0, first
    assert first.recap()["localhost"]["changed"] == 1, first
    result = first.result()["result"]
    assert result["hosts"] == {"before": ["fd://"], "after": ["fd://", TCP]}
    assert [(entry["path"], entry["action"]) for entry in result["files"]] == [(DROPIN, "create")]
    assert EXEC_WITH_TCP in (tree / DROPIN.lstrip("/")).read_text().splitlines()
    # A --root tree is not this machine: the module writes and reports that it did not restart.
    assert "not_restarted" in codes(result)
    assert result["restart"] is None
    written = snapshot(tree)

    second = ansible.play([task])

    assert second.returncode == 0, second
    assert second.recap()["localhost"]["changed"] == 0, second
    assert second.recap()["localhost"]["ok"] == 1, second
    assert second.result()["result"]["changed"] is False
    assert snapshot(tree) == written


def test_states_map_to_add_remove_and_set(ansible: Ansible, tree: Path) -> None:
    tasks = [
        module_task("present", root=str(tree), hosts=[TCP], state="present"),
        module_task("absent", root=str(tree), hosts=[TCP], state="absent"),
        module_task("exact", root=str(tree), hosts=["tcp://127.0.0.1:2376"], state="exact"),
    ]

    run = ansible.play(tasks, diff=True)

    assert run.returncode == 0, run
    afters = {task["name"]: run.result(task=task["name"])["result"]["hosts"]["after"] for task in tasks}
    assert afters == {
        "present": ["fd://", TCP],
        "absent": ["fd://"],
        "exact": ["tcp://127.0.0.1:2376"],
    }


def test_absent_diff_removes_binding(ansible: Ansible, tree: Path) -> None:
    added = ansible.play([module_task("present", root=str(tree), hosts=[TCP])])
    assert added.returncode == 0, added

    run = ansible.play([module_task("absent", root=str(tree), hosts=[TCP], state="absent")], diff=True)

    assert run.returncode == 0, run
    (entry,) = run.result()["result"]["diff"]
    assert entry["before_header"] == DROPIN
    assert "tcp://127.0.0.1:2375" in entry["before"]
    assert "tcp://127.0.0.1:2375" not in entry["after"]


def _library_error(tree: Path, params: dict[str, Any]) -> DhconfError:
    """The error the dhconf library itself raises for ``params`` on ``tree``."""
    options = dict(params)
    mode = MODES[options.pop("state", "present")]
    with pytest.raises(DhconfError) as caught:
        change_hosts(mode=mode, root=str(tree), dry_run=True, **options)
    return caught.value


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"hosts": ["tcp://h:0"]}, id="port-zero"),
        pytest.param({"hosts": ["ssh://docker.example.test"]}, id="ssh-is-client-only"),
        pytest.param({"hosts": ["TCP://127.0.0.1:2375"]}, id="upper-case-scheme"),
        pytest.param({"hosts": ["tcp://0.0.0.0:2375"]}, id="plain-tcp-on-every-address"),
        pytest.param({"hosts": ["tcp://[::]:2375"], "state": "exact"}, id="plain-tcp-on-every-ipv6-address"),
        pytest.param({"hosts": ["fd://"], "state": "absent"}, id="removing-every-binding"),
        pytest.param({"hosts": [TCP], "unit": "dockerd-missing"}, id="unknown-unit"),
    ],
)
def test_bad_input_fails_unchanged(
    ansible: Ansible, tree: Path, params: dict[str, Any]
) -> None:
    expected = _library_error(tree, params)
    before = snapshot(tree)

    run = ansible.play([module_task("bad input", root=str(tree), **params)])

    assert run.returncode == ANSIBLE_HOST_FAILED, run
    entry = run.result()
    assert entry["status"] == "failed"
    assert entry["result"]["msg"] == expected.message
    assert entry["result"]["code"] == expected.code
    assert entry["result"]["changed"] is False
    assert entry["result"]["rolled_back"] is False
    assert snapshot(tree) == before


def test_world_readable_key_fails(ansible: Ansible, tree: Path) -> None:
    tls = _tls_files(tree)
    os.chmod(tree / tls["tlskey"].lstrip("/"), 0o644)
    params = {"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": True, **tls}
    expected = _library_error(tree, params)
    before = snapshot(tree)

    run = ansible.play([module_task("TLS", root=str(tree), **params)])

    assert run.returncode == ANSIBLE_HOST_FAILED, run
    assert run.result()["result"]["msg"] == expected.message
    assert snapshot(tree) == before


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"tlsverify": True}, "tlsverify is True but all of the following are missing: "
                     "tlscacert, tlscert, tlskey", id="tlsverify-without-files"),
        pytest.param({"client_cert": "/etc/docker/client.pem"}, "parameters are required together: "
                     "client_cert, client_key", id="client-cert-without-key"),
        pytest.param({"state": "latest"}, "value of state must be one of: present, absent, exact",
                     id="unknown-state"),
    ],
)
def test_option_errors_fail_before_dhconf(
    ansible: Ansible, tree: Path, params: dict[str, Any], expected: str
) -> None:
    before = snapshot(tree)

    run = ansible.play([module_task("bad options", root=str(tree), hosts=[TCP], **params)])

    assert run.returncode == ANSIBLE_HOST_FAILED, run
    assert expected in run.result()["result"]["msg"]
    assert snapshot(tree) == before


def _tls_files(tree: Path) -> dict[str, str]:
    """Put a CA, a server certificate and a key (mode 600) into the tree; return their host paths."""
    paths = {"tlscacert": "/etc/docker/tls/ca.pem", "tlscert": "/etc/docker/tls/server-cert.pem",
             "tlskey": "/etc/docker/tls/server-key.pem"}
    for host_path in paths.values():
        target = tree / host_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        # dhconf renders the paths; dockerd, not dhconf, reads the PEM inside.
        target.write_text("placeholder, never parsed by dhconf\n")
        target.chmod(0o600)
    return paths


def test_mutual_tls_renders_daemon_flags(ansible: Ansible, tree: Path) -> None:
    tls = _tls_files(tree)

    run = ansible.play([module_task("TLS", root=str(tree), hosts=["tcp://0.0.0.0:2376"], tlsverify=True, **tls)])

    assert run.returncode == 0, run
    (exec_line,) = [
        line for line in (tree / DROPIN.lstrip("/")).read_text().splitlines() if line.startswith("ExecStart=/")
    ]
    # dockerd takes its flags in any order; dhconf puts the TLS flags beside the hosts.
    assert sorted(exec_line.split()[1:]) == sorted([
        "-H", "fd://", "-H", "tcp://0.0.0.0:2376", "--containerd=/run/containerd/containerd.sock",
        "--tlsverify", f"--tlscacert={tls['tlscacert']}", f"--tlscert={tls['tlscert']}",
        f"--tlskey={tls['tlskey']}",
    ])


def test_allowed_insecure_tcp_warns_in_ansible(ansible: Ansible, tree: Path) -> None:
    run = ansible.play([module_task("plain TCP", root=str(tree), hosts=["tcp://0.0.0.0:2375"],
                                    allow_insecure_tcp=True)])

    assert run.returncode == 0, run
    assert "[WARNING]: dhconf: serving tcp://0.0.0.0:2375 without TLS" in run.stdout + run.stderr, run
    assert "--tls=false" in (tree / DROPIN.lstrip("/")).read_text()


def test_missing_library_names_pip_install(ansible: Ansible, tree: Path, tmp_path: Path) -> None:
    # A fresh venv is a real Python without dhconf on its path.
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    python = bare / "bin" / "python"

    run = ansible.play([module_task("add TCP", root=str(tree), hosts=[TCP])], interpreter=str(python))

    assert run.returncode == ANSIBLE_HOST_FAILED, run
    message = run.result()["result"]["msg"]
    assert "pip install dhconf" in message
    assert str(python) in message


def _write_inventory(path: Path, trees: dict[str, Path]) -> Path:
    lines = ["[trees]"] + [f"{name} ansible_connection=local tree_root={root}" for name, root in trees.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("count", [1, 10])
def test_check_mode_reports_per_tree(ansible: Ansible, tmp_path: Path, count: int) -> None:
    trees = {f"tree{number:02d}": make_upstream_tree(tmp_path / f"tree{number:02d}") for number in range(count)}
    # Every odd tree has the binding already, so the report must tell the hosts apart.
    for number, root in enumerate(trees.values()):
        if number % 2:
            change_hosts(mode="add", hosts=[TCP], root=str(root))
    before = {name: snapshot(root) for name, root in trees.items()}
    inventory = _write_inventory(tmp_path / "inventory.ini", trees)

    run = ansible.play([module_task("add TCP", root="{{ tree_root }}", hosts=[TCP])],
                       check=True, inventory=str(inventory), forks=5)

    assert run.returncode == 0, run
    expected = {name: int(number % 2 == 0) for number, name in enumerate(trees)}
    assert {name: counts["changed"] for name, counts in run.recap().items()} == expected, run
    assert {name: int(run.result(name)["result"]["changed"]) for name in trees} == expected
    assert {name: run.result(name)["result"]["hosts"]["after"] for name in trees} == {
        name: ["fd://", TCP] for name in trees
    }
    assert {name: snapshot(root) for name, root in trees.items()} == before
