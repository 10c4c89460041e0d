"""Setting one variable: round trips through the real /bin/sh and the systemd parser."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from dhconf.errors import InvalidInput, NotSupported
from dhconf.sources.assign import quote_value, set_variable
from dhconf.sources.envfile import parse_environment_file
from dhconf.sources.shellvars import read_shell_variables
from tests.sources import sh_oracle
from tests.sources.envfile_cases import CORPUS_ENV_FILES, SECTION8_CASES
from tests.trees import corpus_path

NEW_VALUE = "-H unix:///var/run/docker.sock -H tcp://127.0.0.1:2376"
PATH = "/etc/default/docker"


@pytest.fixture
def sh_dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """HOME for sh (it need not exist), an empty working directory, and a directory for files."""
    workdir = tmp_path / "cwd"
    files = tmp_path / "files"
    workdir.mkdir()
    files.mkdir()
    return tmp_path / "home", workdir, files


def real_sh_value(text: str, name: str, sh_dirs: tuple[Path, Path, Path]) -> str | None:
    home, workdir, files = sh_dirs
    run = sh_oracle.source(sh_oracle.write_file(files, text), [name], home, workdir)
    assert run.completed, run.stderr
    return run.values.get(name)


def changed_blocks(old: str, new: str) -> list[tuple[str, int, int, list[str]]]:
    """Return the differing blocks of two texts' line lists: (tag, old start, old end, new lines)."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    return [
        (tag, i1, i2, new_lines[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    ]


def corpus_variable(text: str) -> str:
    return "OPTIONS" if re.search(r"^OPTIONS=", text, re.MULTILINE) else "DOCKER_OPTS"


@pytest.mark.parametrize("relative", CORPUS_ENV_FILES)
def test_corpus_round_trip_through_sh(relative: str, sh_dirs: tuple[Path, Path, Path]) -> None:
    text = corpus_path(relative).read_bytes().decode()
    name = corpus_variable(text)
    new = set_variable(text, name, NEW_VALUE, reader="both")
    assert real_sh_value(new, name, sh_dirs) == NEW_VALUE


@pytest.mark.parametrize("relative", CORPUS_ENV_FILES)
def test_corpus_round_trip_through_systemd(relative: str) -> None:
    text = corpus_path(relative).read_bytes().decode()
    name = corpus_variable(text)
    new = set_variable(text, name, NEW_VALUE, reader="both")
    assert parse_environment_file(new, PATH).values[name] == NEW_VALUE


@pytest.mark.parametrize("relative", CORPUS_ENV_FILES)
def test_corpus_other_lines_unchanged(relative: str) -> None:
    text = corpus_path(relative).read_bytes().decode()
    name = corpus_variable(text)
    new = set_variable(text, name, NEW_VALUE, reader="both", comment="note")
    line = f'{name}="{NEW_VALUE}"'

    old_line = next((number for number, old in enumerate(text.split("\n")) if old.startswith(f"{name}=")), None)
    if old_line is not None:
        assert changed_blocks(text, new) == [("replace", old_line, old_line + 1, [line])]
    elif text.endswith("\n"):
        last = len(text.split("\n")) - 1
        assert changed_blocks(text, new) == [("insert", last, last, ["# note", line])]
    else:
        pytest.fail(f"corpus file {relative} does not end with a newline; extend this test")


# Table rows that a "both" edit must reject, with a word the error names.
TABLE_REJECTED = {
    "08-semicolon": "HTTP_PROXY",
    "08-semicolon-second": "HTTP_PROXY",
    "09-crlf": "CRLF",
}


@pytest.mark.parametrize(
    ("text", "variable"),
    [(case[1], case[2]) for case in SECTION8_CASES if case[0] not in TABLE_REJECTED],
    ids=[case[0] for case in SECTION8_CASES if case[0] not in TABLE_REJECTED],
)
def test_table_rows_fixed_for_both(text: str, variable: str, sh_dirs: tuple[Path, Path, Path]) -> None:
    new = set_variable(text, variable, NEW_VALUE, reader="both")
    assert real_sh_value(new, variable, sh_dirs) == NEW_VALUE
    assert parse_environment_file(new, PATH).values[variable] == NEW_VALUE


@pytest.mark.parametrize(
    ("text", "variable", "named"),
    [(case[1], case[2], TABLE_REJECTED[case[0]]) for case in SECTION8_CASES if case[0] in TABLE_REJECTED],
    ids=[case[0] for case in SECTION8_CASES if case[0] in TABLE_REJECTED],
)
def test_table_rows_rejected_for_both(text: str, variable: str, named: str) -> None:
    with pytest.raises(NotSupported, match=named):
        set_variable(text, variable, NEW_VALUE, reader="both")


def test_crlf_kept_for_systemd() -> None:
    text = "# head\r\nDOCKER_OPTS=x\r\nB=1\r\n"
    new = set_variable(text, "DOCKER_OPTS", "v", reader="systemd")
    assert new == '# head\r\nDOCKER_OPTS="v"\r\nB=1\r\n'


def test_crlf_append_for_systemd() -> None:
    assert set_variable("A=1\r\n", "B", "v", reader="systemd", comment=None) == 'A=1\r\nB="v"\r\n'


@pytest.mark.parametrize("reader", ["sh", "both"])
def test_crlf_rejected_for_sh(reader: str) -> None:
    with pytest.raises(NotSupported, match="CRLF"):
        set_variable("A=1\r\n", "B", "v", reader=reader)


def test_export_kept_for_sh() -> None:
    new = set_variable('export DOCKER_OPTS="x" # keep\n', "DOCKER_OPTS", "v", reader="sh")
    assert new == 'export DOCKER_OPTS="v" # keep\n'


def test_export_dropped_for_both() -> None:
    assert set_variable('export DOCKER_OPTS="x"\n', "DOCKER_OPTS", "v", reader="both") == 'DOCKER_OPTS="v"\n'


def test_trailing_comment_moved_above_for_both() -> None:
    text = '  DOCKER_OPTS="x" # listen locally\nB=1\n'
    new = set_variable(text, "DOCKER_OPTS", "v", reader="both")
    assert new == '  # listen locally\n  DOCKER_OPTS="v"\nB=1\n'


def test_multi_line_value_replaced_whole() -> None:
    text = 'A=0\nDOCKER_OPTS="-H\n  fd://"\nB=1\n'
    assert set_variable(text, "DOCKER_OPTS", "v", reader="both") == 'A=0\nDOCKER_OPTS="v"\nB=1\n'


def test_only_last_assignment_replaced() -> None:
    text = "DOCKER_OPTS=1\n# c\nDOCKER_OPTS=2\nB=3\n"
    assert set_variable(text, "DOCKER_OPTS", "v", reader="both") == 'DOCKER_OPTS=1\n# c\nDOCKER_OPTS="v"\nB=3\n'


def test_sh_replaces_word_only() -> None:
    text = "A=1; DOCKER_OPTS=x B=2\n"
    assert set_variable(text, "DOCKER_OPTS", "v", reader="sh") == 'A=1; DOCKER_OPTS="v" B=2\n'


def test_append_adds_missing_newline() -> None:
    assert set_variable("A=1", "B", "v", reader="both", comment=None) == 'A=1\nB="v"\n'


def test_append_with_comment_lines() -> None:
    new = set_variable("A=1\n", "B", "v", reader="both", comment="set by dhconf\n\nsee docs")
    assert new == 'A=1\n# set by dhconf\n#\n# see docs\nB="v"\n'


def test_append_to_empty_text() -> None:
    assert set_variable("", "B", "v", reader="sh", comment=None) == 'B="v"\n'


def test_comment_only_for_new_assignment() -> None:
    assert set_variable("B=1\n", "B", "v", reader="both", comment="new") == 'B="v"\n'


def test_command_substitution_replaced_for_sh() -> None:
    assert set_variable("B=$(hostname)\n", "B", "v", reader="sh") == 'B="v"\n'


def test_unterminated_quote_rejected_for_systemd() -> None:
    with pytest.raises(NotSupported, match="never closed"):
        set_variable("B='x\nC=1\n", "B", "v", reader="systemd")


def test_value_in_if_block_rejected_for_sh() -> None:
    text = 'B=1\nif [ -n "$X" ]; then\n  B=2\nfi\n'
    with pytest.raises(NotSupported, match="B"):
        set_variable(text, "B", "v", reader="sh")


def test_invalid_name_rejected() -> None:
    with pytest.raises(InvalidInput, match="'1A'"):
        set_variable("", "1A", "v", reader="sh")


def test_invalid_reader_rejected() -> None:
    with pytest.raises(InvalidInput, match="'bash'"):
        set_variable("", "A", "v", reader="bash")


QUOTING_VALUES = [
    "",
    "plain",
    " leading and trailing ",
    "$HOME ${HOME} $(id) `id`",
    'back\\slash \\n \\" double"quote',
    "single'quote",
    "# not a comment ; && | > <",
    "tab\there",
    "--label=\"a b\" -H tcp://127.0.0.1:2375",
    "~/x ~root",
    "ünïcødé",
]


@pytest.mark.parametrize("value", QUOTING_VALUES)
def test_quote_value_read_by_sh(value: str, sh_dirs: tuple[Path, Path, Path]) -> None:
    assert real_sh_value(f"V={quote_value(value, 'both')}\n", "V", sh_dirs) == value


@pytest.mark.parametrize("value", QUOTING_VALUES)
def test_quote_value_read_by_systemd(value: str) -> None:
    assert parse_environment_file(f"V={quote_value(value, 'both')}\n", PATH).values == {"V": value}


@pytest.mark.parametrize("value", QUOTING_VALUES)
def test_quote_value_read_by_sh_reader(value: str) -> None:
    assert read_shell_variables(f"V={quote_value(value, 'both')}\n", PATH).values == {"V": value}


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
@pytest.mark.parametrize("reader", ["sh", "systemd", "both"])
def test_quote_value_rejects_line_breaks(value: str, reader: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(repr(value))):
        quote_value(value, reader)
