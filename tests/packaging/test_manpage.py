"""dhconf(1) from tools/gen_manpage.py: every option of every command, exit codes, clean roff."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer

from dhconf.cli import app
from dhconf.errors import EXIT_CODES
from tests.packaging.helpers import REPO, require_tools, run, system_env

GENERATOR = REPO / "tools" / "gen_manpage.py"


def load_generator() -> ModuleType:
    """Import tools/gen_manpage.py, which is a script outside any package."""
    if "gen_manpage" in sys.modules:
        return sys.modules["gen_manpage"]
    spec = importlib.util.spec_from_file_location("gen_manpage", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules to resolve its annotations.
    sys.modules["gen_manpage"] = module
    spec.loader.exec_module(module)
    return module


def cli_options() -> list[tuple[str, Any]]:
    """Return (command name, option) for every option that --help shows, including the help option."""
    root = typer.main.get_command(app)
    root_context = root.context_class(root, info_name="dhconf", **root.context_settings)
    pairs = [("dhconf", param) for param in root.get_params(root_context)]
    for name, command in root.commands.items():
        context = command.context_class(command, parent=root_context, info_name=name)
        pairs += [(name, param) for param in command.get_params(context)]
    return [(name, param) for name, param in pairs if not getattr(param, "hidden", False)]


OPTIONS = cli_options()
COMMANDS = sorted(typer.main.get_command(app).commands)


@pytest.fixture(scope="module")
def manpage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("man") / "dhconf.1"
    run([sys.executable, GENERATOR, "--output", output], env=system_env(SOURCE_DATE_EPOCH="86400"), cwd=output.parent)
    return output


@pytest.fixture(scope="module")
def rendered(manpage: Path) -> list[str]:
    """Render the page as a reader sees it, in plain ASCII without overstrikes."""
    require_tools("groff")
    result = run(["groff", "-man", "-Tascii", "-P-cbou", manpage], env=system_env())
    return result.stdout.splitlines()


def block(lines: list[str], heading: str) -> str:
    """Return the text under a section (no indent) or a command subsection (three spaces), joined by single spaces."""
    indent = len(heading) - len(heading.lstrip())
    start = lines.index(heading) + 1
    end = start
    while end < len(lines):
        line = lines[end]
        line_indent = len(line) - len(line.lstrip())
        if line.strip() and line_indent <= indent and not line.startswith("DHCONF(1)"):
            break
        end += 1
    return " ".join(" ".join(lines[start:end]).split())


def section_of(command: str) -> str:
    return "GLOBAL OPTIONS" if command == "dhconf" else f"   {command}"


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=[f"{name}-{param.name}" for name, param in OPTIONS])
def test_option_names_listed(rendered: list[str], command: str, option: Any) -> None:
    words = {word.rstrip(",") for word in block(rendered, section_of(command)).split(" ")}
    for name in (*option.opts, *option.secondary_opts):
        assert name in words, f"{name} missing from the {command} section"


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=[f"{name}-{param.name}" for name, param in OPTIONS])
def test_option_help_text_listed(rendered: list[str], command: str, option: Any) -> None:
    help_text = " ".join((option.help or "").split())
    assert help_text, f"{command} {option.opts} has no help text"
    assert help_text in block(rendered, section_of(command))


@pytest.mark.parametrize("command", COMMANDS)
def test_command_section_has_help(rendered: list[str], command: str) -> None:
    help_text = " ".join((typer.main.get_command(app).commands[command].help or "").split())
    assert help_text in block(rendered, f"   {command}")


@pytest.mark.parametrize(("code", "meaning"), sorted(EXIT_CODES.items()))
def test_exit_codes_are_listed(rendered: list[str], code: int, meaning: str) -> None:
    text = block(rendered, "EXIT STATUS")
    assert f"{code} {meaning[:1].upper()}{meaning[1:]}." in text


@pytest.mark.parametrize("section", ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXAMPLES", "SEE ALSO"])
def test_section_present(rendered: list[str], section: str) -> None:
    assert section in rendered


def test_files_names_dropin_and_journal(rendered: list[str]) -> None:
    text = block(rendered, "FILES")
    assert "/etc/systemd/system/docker.service.d/dhconf.conf" in text
    assert "/var/lib/dhconf/journal" in text


def test_examples_are_shown(rendered: list[str]) -> None:
    text = block(rendered, "EXAMPLES")
    for example in load_generator().EXAMPLES:
        assert " ".join(["dhconf", *example.argv]) in text


def test_example_unknown_option_rejected() -> None:
    generator = load_generator()
    root = typer.main.get_command(app)
    with pytest.raises(SystemExit, match="dhconf set has no option '--no-such-option'"):
        generator.check_example(root, ("set", "-H", "fd://", "--no-such-option"))


def test_example_unknown_command_rejected() -> None:
    generator = load_generator()
    root = typer.main.get_command(app)
    with pytest.raises(SystemExit, match="no command 'frobnicate'"):
        generator.check_example(root, ("frobnicate",))


def test_date_from_source_date_epoch(manpage: Path) -> None:
    title = manpage.read_text().splitlines()[0]
    assert title.startswith('.TH DHCONF 1 "1970-01-02"')


def test_groff_renders_without_warnings(manpage: Path) -> None:
    require_tools("groff")
    result = run(["groff", "-man", "-Tutf8", "-ww", "-z", manpage], env=system_env())
    assert result.stderr == ""


def test_man_renders_without_warnings(manpage: Path) -> None:
    require_tools("man")
    result = run(["man", "--warnings", "-l", "-Tutf8", manpage], env=system_env(MANWIDTH="80"))
    assert result.stderr == ""
