"""Shell completions generated from the CLI, run in the real shells.

The packages generate them the way these tests do: ``_DHCONF_COMPLETE=source_SHELL dhconf``.
typer keeps click 7's instruction order (``source_bash``). With click 8's
order (``bash_source``) it prints "Shell source not supported." instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.helpers import REPO, bash_completions, fish_completions, require_tools, run, shell_env, system_env

SHELLS = ("bash", "zsh", "fish")

# (words typed so far, a completion the shell must offer)
CASES = [
    (["dhconf", "se"], "set"),
    (["dhconf", "ro"], "rollback"),
    (["dhconf", "--sc"], "--scope"),
    (["dhconf", "set", "--dr"], "--dry-run"),
    (["dhconf", "add", "--allow"], "--allow-insecure-tcp"),
    (["dhconf", "probe", "--tlsc"], "--tlscacert"),
]
# fish runs dhconf twice per TAB (about 2 s on this machine), so it gets one case per kind of word.
FISH_CASES = [CASES[0], CASES[2], CASES[3]]


@pytest.fixture(scope="module")
def dhconf_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create a directory with a ``dhconf`` command that runs this checkout, for the shells to call."""
    directory = tmp_path_factory.mktemp("bin")
    wrapper = directory / "dhconf"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m dhconf "$@"\n')
    wrapper.chmod(0o755)
    return directory


def generate(shell: str) -> str:
    env = system_env(_DHCONF_COMPLETE=f"source_{shell}", PYTHONPATH=str(REPO))
    return run([sys.executable, "-m", "dhconf"], env=env).stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_script_generated_for_dhconf(shell: str) -> None:
    assert f"_DHCONF_COMPLETE=complete_{shell}" in generate(shell)


@pytest.mark.parametrize("shell", SHELLS)
def test_click8_instruction_order_rejected(shell: str) -> None:
    env = system_env(_DHCONF_COMPLETE=f"{shell}_source", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "dhconf"], env=env, capture_output=True, text=True, timeout=60)
    assert "_DHCONF_COMPLETE" not in result.stdout


@pytest.mark.parametrize(("words", "expected"), CASES, ids=[" ".join(words) for words, _ in CASES])
def test_bash_completes(tmp_path: Path, dhconf_bin: Path, words: list[str], expected: str) -> None:
    require_tools("bash")
    script = tmp_path / "dhconf.bash"
    script.write_text(generate("bash"))
    assert expected in bash_completions(script, words, dhconf_bin)


@pytest.mark.parametrize(("words", "expected"), FISH_CASES, ids=[" ".join(words) for words, _ in FISH_CASES])
def test_fish_completes(tmp_path: Path, dhconf_bin: Path, words: list[str], expected: str) -> None:
    require_tools("fish")
    script = tmp_path / "dhconf.fish"
    script.write_text(generate("fish"))
    assert expected in fish_completions(script, words, dhconf_bin)


def test_zsh_script_parses(tmp_path: Path) -> None:
    require_tools("zsh")
    script = tmp_path / "_dhconf"
    script.write_text(generate("zsh"))
    result = run(["zsh", "--no-rcs", "-n", script], env=system_env(), check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("words", "expected"), CASES, ids=[" ".join(words) for words, _ in CASES])
def test_zsh_protocol_completes(dhconf_bin: Path, words: list[str], expected: str) -> None:
    # This is the command the zsh script runs on TAB. Driving zsh's completion system itself needs a terminal.
    env = shell_env(dhconf_bin)
    env.update(_DHCONF_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=" ".join(words))
    output = run(["dhconf"], env=env).stdout
    # typer prints one zsh command: _arguments '*: :(("set":"Replace ...") ...)'
    assert expected in re.findall(r'\("([^"]+)":', output)
