"""The /bin/sh reader against the real /bin/sh (dash here), plus its findings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from dhconf.findings import ERROR, WARNING
from dhconf.sources.shellvars import comment_spans, read_shell_variables, split_shell_words
from tests.sources import sh_oracle
from tests.sources.envfile_cases import CASE_HOME, CORPUS_ENV_FILES, CORPUS_INIT_SCRIPTS, SECTION8_CASES
from tests.trees import corpus_path

PATH = "/etc/default/docker"


@dataclass
class ShellBed:
    home: Path  # HOME of the real sh and of the reader; it need not exist
    workdir: Path  # empty working directory of the real sh
    files: Path


@pytest.fixture
def bed(tmp_path: Path) -> ShellBed:
    workdir = tmp_path / "cwd"
    files = tmp_path / "files"
    workdir.mkdir()
    files.mkdir()
    return ShellBed(tmp_path / "home", workdir, files)


def corpus_text(relative: str) -> str:
    return corpus_path(relative).read_bytes().decode()


def compare_with_sh(text: str, bed: ShellBed) -> None:
    """Assert that the reader's certain values are what the real sh leaves after sourcing ``text``."""
    result = read_shell_variables(text, PATH, {"HOME": str(bed.home)})
    names = sh_oracle.candidate_names(text)
    run = sh_oracle.source(sh_oracle.write_file(bed.files, text), names, bed.home, bed.workdir)

    exits = [finding for finding in result.findings if finding.code == "shell_exits"]
    if not run.completed:
        assert exits, f"sh stopped (status {run.returncode}: {run.stderr!r}) without a shell_exits finding"
        return
    assert not exits, f"the reader says sh exits, but sh completed: {exits}"
    for name in names:
        if name in result.uncertain:
            continue
        assert result.values.get(name) == run.values.get(name), f"{name}: sh stderr {run.stderr!r}"
    for name in result.uncertain:
        assert any(name in finding.message for finding in result.findings), name


@pytest.mark.parametrize("text", sorted({case[1] for case in SECTION8_CASES}))
def test_table_matches_sh(text: str, bed: ShellBed) -> None:
    compare_with_sh(text, bed)


@pytest.mark.parametrize(
    ("text", "variable", "sh_value"),
    [(case[1], case[2], case[4]) for case in SECTION8_CASES if case[0] != "15-command-substitution"],
    ids=[case[0] for case in SECTION8_CASES if case[0] != "15-command-substitution"],
)
def test_table_sh_value(text: str, variable: str, sh_value: str | None) -> None:
    result = read_shell_variables(text, PATH, {"HOME": CASE_HOME})
    assert result.values.get(variable) == sh_value


@pytest.mark.parametrize(
    "case_name", ["04-unquoted-blank", "07-blanks-around-equals", "10-two-quoted-strings"]
)
def test_failing_rows_report_command(case_name: str, bed: ShellBed) -> None:
    text = next(case[1] for case in SECTION8_CASES if case[0] == case_name)
    run = sh_oracle.source(sh_oracle.write_file(bed.files, text), ["DOCKER_OPTS"], bed.home, bed.workdir)
    findings = read_shell_variables(text, PATH).findings

    assert "not found" in run.stderr
    assert [(finding.code, finding.severity, finding.line) for finding in findings] == [
        ("shell_command_runs", ERROR, 1)
    ]


def test_command_substitution_is_uncertain() -> None:
    text = next(case[1] for case in SECTION8_CASES if case[0] == "15-command-substitution")
    result = read_shell_variables(text, PATH)
    assert result.uncertain == {"DOCKER_OPTS"}
    assert "DOCKER_OPTS" not in result.values
    assert [(finding.code, finding.severity) for finding in result.findings] == [("shell_unsupported", WARNING)]


@pytest.mark.parametrize("relative", CORPUS_ENV_FILES)
def test_corpus_matches_sh(relative: str, bed: ShellBed) -> None:
    compare_with_sh(corpus_text(relative), bed)


EXTRA_CASES = {
    "prefix-sees-earlier": "A=1 B=$A\n",
    "export-no-field-splitting": 'B="1 2"; export A=$B\n',
    "tilde": "A=~/x B=x:~/y C=~ D=x=~ E=a~b\n",
    "tilde-quoted": 'A=~:"x" B=~"x" C=~/"x"\n',
    "tilde-user": "A=~root/x B=1\n",
    "dollar-single-quote": "A=$'x\\ty'\n",
    "continuation": "A=x\\\ny\n\\\nB=1 \\\nC=2\n",
    "multi-line-double-quotes": 'A="x\ny"\n',
    "greedy-name": "A=1; A_b=2; B=$A_b; C=${A}b\n",
    "special-parameters": "A=$1 B=$# C=$$\n",
    "backslashes": 'A=a\\ b B=\\$x C="a\\nb" D=a\\\n',
    "double-quote-escapes": 'A="a\\nb\\$c\\"d\\\\e\\`f\\\ng"\n',
    "empty-values": "A= B=1\nC=\"\"; D=''\n",
    "leading-semicolon": ";A=1\n",
    "empty-command": "A=1; ;\n",
    "semicolon-line": "A=1\n;\n",
    "unterminated-double": 'B=0\nA="x\n',
    "unterminated-backquote": "A=`echo hi\n",
    "unterminated-substitution": "A=$(echo hi\n",
    "missing-brace": "A=${B\n",
    "bad-substitution": "A=${}\n",
    "bad-export-name": "export 1A=2; A=3\n",
    "bad-unset-name": "B=1\nunset 1A; B=3\n",
    "colon-keeps-prefix": "A=1 :; B=$A\n",
    "true-drops-prefix": "A=1 true\n",
    "export-keeps-prefix": "A=1 export B=2\n",
    "export-expands-first": "A=1 B=$A export C=$B\nexport D=1 E=$D\n",
    "source-in-dash": "source ./missing; A=1\n",
    "dot-keeps-prefix": "A=1 . /dev/null; B=$A\n",
    "prefix-before-command": "A=1 B=2 tcp://x; C=3\n",
    "redirection": "A=1 >/dev/null\n",
    "export-existing": "A=1\nexport A B\nC=$A\n",
    "export-unset": "export A\n",
    "and-list-continues": "A=1 &&\nB=2\n",
    "comment-forms": "A=x#y B=#z # c\nC=3;#D=4\n#E=5\n",
    "fi-unexpected": "fi\n",
    "then-unexpected": "A=1; then\n",
    "trailing-semicolon": "A=1 ;\n",
    "double-semicolon": "A=1;;\n",
    "brace-group": "{ A=1; }\nB=2\n",
    "if-block": "if true; then A=1; fi; B=2\n",
    "arithmetic": 'A="$B" B=2 C=$((1+2))\n',
    "blanks": '   A=1\tB="  x  "\n',
    "unset": "A=1 B=2; unset -v A; C=${A-u}\n",
    "readonly": "readonly A=1; A=2; B=3\n",
    "return": "A=1; return; B=2\n",
    "exit": "A=1; exit 0; B=2\n",
    "function": "f()\n{ A=1; }\nB=2\n",
    "here-document": "cat <<EOF\nA=1\nEOF\nB=2\n",
    "here-document-tabs": 'cat <<-"X"\n\tA=1\n\tX\nB=$A\n',
    "assignment-then-word": "A=1 B\nC=3\n",
    "lone-dollar": 'A=$\nB=$"x" C=$ \n',
    "quotes-in-quotes": "A='\\' B=\"$'x'\"\n",
    "trailing-comment": 'A="x" # comment\n',
    "reserved-after-assignment": "A=1 if\n",
    "case-block": "case x in x) A=1;; esac; B=2\n",
    "or-list": "A=1 || B=2\n",
    "subshell": "(A=1); B=2\n",
    "shell-set-variables": 'A="$PATH" B=$PWD C=1\n',
    "mixed-quoting": "A='x'\"y\"z\\ w\n",
    "escaped-quotes": "A=\\'; B=\\\"\n",
    "quoted-name": '"A"=1\nB\\=1\nC\'\'=1 D=2\n',
    "case-in-substitution": "A=$( case x in x) echo y;; esac ); B=1\n",
    "parameter-operators": "A=${#B} C=${B:-x} D=1\n",
    "unset-prefix": "A=1 unset A; B=$A\n",
    "crlf-blank-line": 'A="x"\r\n\r\nB=1\r\n',
    "carriage-return-escaped": "A=x\\\r\nB=2\r\n",
}


@pytest.mark.parametrize("text", EXTRA_CASES.values(), ids=EXTRA_CASES.keys())
def test_extra_cases_match_sh(text: str, bed: ShellBed) -> None:
    compare_with_sh(text, bed)


def split_cases() -> list[tuple[str, str]]:
    cases = [
        (case[1], case[2])
        for case in SECTION8_CASES
        if case[4] is not None and case[0] != "15-command-substitution"
    ]
    cases += [
        ('A=" a  b\t c\nd "\n', "A"),
        ('A="--label=\\"a b\\" x"\n', "A"),
        ("A='a\\ b' \n", "A"),
        ('A=""\n', "A"),
    ]
    return cases


@pytest.mark.parametrize(("text", "variable"), split_cases())
def test_split_shell_words_matches_sh(text: str, variable: str, bed: ShellBed) -> None:
    result = read_shell_variables(text, PATH, {"HOME": str(bed.home)})
    path = sh_oracle.write_file(bed.files, text)
    assert split_shell_words(result.values[variable]) == sh_oracle.split_unquoted(
        path, variable, bed.home, bed.workdir
    )


@pytest.mark.parametrize("relative", CORPUS_ENV_FILES)
def test_split_corpus_values_matches_sh(relative: str, bed: ShellBed) -> None:
    text = corpus_text(relative)
    result = read_shell_variables(text, PATH, {"HOME": str(bed.home)})
    path = sh_oracle.write_file(bed.files, text)
    for name, value in result.values.items():
        assert split_shell_words(value) == sh_oracle.split_unquoted(path, name, bed.home, bed.workdir), name


def test_split_ignores_quotes_and_backslashes() -> None:
    assert split_shell_words(' --label="a b"\\ c \t') == ['--label="a', 'b"\\', "c"]


def test_export_marks_assignment() -> None:
    result = read_shell_variables('export DOCKER_OPTS="-H fd://"\nB=1\n', PATH)
    assert [(a.name, a.exported) for a in result.assignments] == [("DOCKER_OPTS", True), ("B", False)]


def test_bare_export_records_current_value() -> None:
    last = read_shell_variables("A=1\nexport A\n", PATH).last("A")
    assert (last.value, last.line, last.exported) == ("1", 2, True)


def test_multi_line_lines_and_offsets() -> None:
    text = 'B=0\nexport A="one\ntwo" C=1\n'
    result = read_shell_variables(text, PATH)
    assignment = result.last("A")
    assert (assignment.line, assignment.end_line) == (2, 3)
    assert text[assignment.start : assignment.end] == 'A="one\ntwo"'


def test_uncertain_assignment_keeps_written_value() -> None:
    last = read_shell_variables("A=$(hostname)\n", PATH).last("A")
    assert last.value == "$(hostname)"


def test_certain_assignment_clears_uncertain() -> None:
    result = read_shell_variables("A=$(hostname)\nA=2\n", PATH)
    assert (result.uncertain, result.values) == (set(), {"A": "2"})


def test_expansion_of_uncertain_is_uncertain() -> None:
    result = read_shell_variables("A=$(hostname)\nB=x$A\n", PATH)
    assert result.uncertain == {"A", "B"}


def test_if_block_names_its_variables() -> None:
    text = corpus_text("redhat/centos-virt7-docker-1.13.1-17-sysconfig-docker")
    result = read_shell_variables(text, PATH)
    assert result.uncertain == {"DOCKER_CERT_PATH"}
    assert [(f.code, f.line) for f in result.findings] == [("shell_unsupported", 5)]
    assert "DOCKER_CERT_PATH" in result.findings[0].message


def test_environ_feeds_expansion() -> None:
    result = read_shell_variables("A=$X-${Y}\n", PATH, {"X": "1"})
    assert result.values == {"A": "1-"}


def test_environ_not_in_values() -> None:
    assert read_shell_variables("A=1\n", PATH, {"X": "1"}).values == {"A": "1"}


def test_syntax_error_stops_reading() -> None:
    result = read_shell_variables('A=1\nB="x\nC=3\n', PATH)
    assert result.values == {"A": "1"}
    assert [(f.code, f.severity, f.line) for f in result.findings] == [("shell_exits", ERROR, 2)]


def test_crlf_value_gets_carriage_return_finding() -> None:
    findings = read_shell_variables('A="x"\r\n', PATH).findings
    assert [(f.code, f.line) for f in findings] == [("shell_carriage_return", 1)]


def test_blanks_around_equals_hint() -> None:
    finding = read_shell_variables('DOCKER_OPTS = "-H fd://"\n', PATH).findings[0]
    assert "write DOCKER_OPTS=value with no blanks around '='" in finding.message


def test_source_hint_names_dash() -> None:
    finding = read_shell_variables("source /etc/sysconfig/docker-storage\n", PATH).findings[0]
    assert "dash has no 'source' built-in" in finding.message


def test_command_finding_mentions_set_e() -> None:
    finding = read_shell_variables("DOCKER_OPTS=-H tcp://127.0.0.1:2375\n", PATH).findings[0]
    assert "'tcp://127.0.0.1:2375'" in finding.message
    assert "'set -e'" in finding.message


def test_reader_never_runs_commands(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    text = f"touch {marker}\nA=$(touch {marker})\nB=`touch {marker}`\n"
    read_shell_variables(text, PATH)
    assert not marker.exists()


INIT_SCRIPT_VALUES = {
    "upstream/moby-v29.0.0-sysvinit-debian-docker.init": {
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
        "BASE": "docker",
        "DOCKERD": "/usr/bin/dockerd",
        "DOCKER_PIDFILE": "/var/run/docker.pid",
        "DOCKER_SSD_PIDFILE": "/var/run/docker-ssd.pid",
        "DOCKER_LOGFILE": "/var/log/docker.log",
        "DOCKER_OPTS": "",
        "DOCKER_DESC": "Docker",
    },
    "upstream/moby-v29.0.0-sysvinit-redhat-docker.init": {
        "prog": "docker",
        "unshare": "/usr/bin/unshare",
        "exec": "/usr/bin/dockerd",
        "pidfile": "/var/run/docker.pid",
        "lockfile": "/var/lock/subsys/docker",
        "logfile": "/var/log/docker",
    },
}


@pytest.mark.parametrize("relative", CORPUS_INIT_SCRIPTS)
def test_init_script_plain_assignments(relative: str) -> None:
    result = read_shell_variables(corpus_text(relative), relative)
    for name, value in INIT_SCRIPT_VALUES[relative].items():
        assert result.values.get(name) == value, name


INIT_SCRIPT_FINDING_CODES = {
    # "set -e" on line 2 is a command; the functions and the "case" block are not evaluated.
    "upstream/moby-v29.0.0-sysvinit-debian-docker.init": {"shell_command_runs", "shell_unsupported"},
    # The script ends with "exit $?", which would end a shell that sourced it.
    "upstream/moby-v29.0.0-sysvinit-redhat-docker.init": {"shell_unsupported", "shell_exits"},
}


@pytest.mark.parametrize("relative", CORPUS_INIT_SCRIPTS)
def test_init_script_commands_are_findings(relative: str) -> None:
    findings = read_shell_variables(corpus_text(relative), relative).findings
    assert {finding.code for finding in findings} == INIT_SCRIPT_FINDING_CODES[relative]


def test_comment_spans() -> None:
    text = 'A="#x" # one\n# two\nB=c#d\n'
    assert [text[start:end] for start, end in comment_spans(text)] == ["# one", "# two"]
