"""Read a variable file the way /bin/sh does when an init script sources it with ``.``.

The reader follows dash 0.5.12 (Debian's /bin/sh) for files that only assign
variables: ``NAME=value`` with sh quoting, ``$NAME`` and ``${NAME}`` from
earlier lines or from ``environ``, ``export``, ``unset``, several assignments
on a line, comments and here-documents. It never runs the file. Anything else
gives a finding with its line:

* ``shell_command_runs``: sourcing would run a command.
* ``shell_unsupported``: dhconf does not evaluate the construct, so the
  variables it may set become ``uncertain``.
* ``shell_exits``: an error makes sh exit, and nothing after it is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dhconf.findings import ERROR, WARNING, Finding
from dhconf.sources.envfile import VALID_NAME, Assignment, LineIndex, VariableFile
from dhconf.sources.shellsyntax import (
    OPAQUE,
    OPERATOR,
    PARAM,
    TEXT,
    WORD,
    CompleteCommand,
    Part,
    Token,
    group_commands,
    tokenize,
)

__all__ = ["Assignment", "VariableFile", "read_shell_variables", "split_shell_words", "comment_spans"]

_ASSIGNMENT_START = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_IFS_WHITESPACE = re.compile(r"[ \t\n]+")

# Variables that dash sets itself at start-up, so their value depends on the
# shell that sources the file unless ``environ`` gives them.
_SHELL_SET_VARIABLES = {"IFS", "LINENO", "OPTIND", "PATH", "PPID", "PS1", "PS2", "PS4", "PWD"}

# POSIX special built-ins: assignments written before them stay set afterwards.
_SPECIAL_BUILTINS = {
    ":", ".", "break", "continue", "eval", "exec", "exit", "export",
    "readonly", "return", "set", "shift", "times", "trap", "unset",
}

_MAX_SHOWN_COMMAND = 120  # characters of a command quoted in a finding


def read_shell_variables(text: str, path: str, environ: Mapping[str, str] | None = None) -> VariableFile:
    """Read the variables that sourcing ``text`` with dash's ``.`` would set.

    ``environ`` contains the variables already set in the sourcing shell (none
    by default). As in sh, ``$NAME`` expands to the empty string when NAME is
    set neither there nor earlier in the file.
    """
    return _ShellReader(text, path, dict(environ or {})).read()


def split_shell_words(value: str) -> list[str]:
    """Split ``value`` the way sh splits an unquoted ``$VAR`` with the default IFS.

    Only space, tab and newline separate words; quotes and backslashes inside
    the value are ordinary characters.
    NOTE: sh then replaces a word with ``*``, ``?`` or ``[`` by the file names
    it matches, if there are any. This function leaves such words as they are.
    """
    return [word for word in _IFS_WHITESPACE.split(value) if word]


def comment_spans(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) offsets of the sh comments in ``text``, each up to its line end.

    Comments after an unterminated quote or other syntax error are not listed.
    """
    return tokenize(text)[1]


class _StopReading(Exception):
    """sh stops reading the file at this point."""


class _ShellReader:
    def __init__(self, text: str, path: str, variables: dict[str, str]) -> None:
        self.text = text
        self.lines = LineIndex(text)
        self.result = VariableFile(path=path)
        self.variables = variables
        self.readonly: set[str] = set()

    def read(self) -> VariableFile:
        tokens, _ = tokenize(self.text)
        try:
            for command in group_commands(tokens):
                self._run_complete_command(command)
        except _StopReading:
            pass
        return self.result

    def _run_complete_command(self, command: CompleteCommand) -> None:
        if command.error is not None:
            self._exit(
                f"syntax error: {command.error}. sh runs nothing of this command and exits, "
                "so an init script that sources the file ends here",
                command.error_offset,
            )
        if command.compound is not None:
            self._skip_compound(command)
            return

        simple: list[Token] = []
        for token in command.tokens + [Token(OPERATOR, len(self.text), len(self.text), text=";")]:
            if token.kind == WORD:
                simple.append(token)
            elif simple:
                self._run_simple_command(simple)
                simple = []

    def _skip_compound(self, command: CompleteCommand) -> None:
        words = [token for token in command.tokens if token.kind == WORD]
        first_line = self.lines.line_of(command.tokens[0].start)
        last_line = self.lines.line_of(command.tokens[-1].end - 1)
        names = sorted({split[0] for split in map(_split_assignment, words) if split})
        for name in names:
            self._forget(name)
            self.result.uncertain.add(name)

        where = f"line {first_line}" if first_line == last_line else f"lines {first_line}-{last_line}"
        if names:
            effect = f"so it cannot tell whether the assignments to {', '.join(names)} in it take effect"
        else:
            effect = "so it cannot tell what the commands in it change"
        self._finding(
            "shell_unsupported",
            WARNING,
            f"sh runs {command.compound} on {where}, which dhconf does not evaluate, {effect}",
            command.tokens[0].start,
        )

    def _run_simple_command(self, words: list[Token]) -> None:
        prefix: list[Token] = []
        while len(prefix) < len(words) and _split_assignment(words[len(prefix)]):
            prefix.append(words[len(prefix)])
        command = words[len(prefix) :]
        if not command:
            for word in prefix:
                self._assign_word(word, exported=False)
            return

        name = command[0].literal()
        if name in ("export", "readonly"):
            self._declare(name, prefix, command[1:])
        elif name == "unset":
            self._assign_prefix(prefix)
            self._unset(command[1:])
        elif name in (":", "true"):
            if name == ":":
                self._assign_prefix(prefix)
            self._check_arguments(command)
        elif name == ".":
            self._assign_prefix(prefix)
            self._source(command)
        elif name in ("exit", "return"):
            self._assign_prefix(prefix)
            self._stop(name, command)
        else:
            if name in _SPECIAL_BUILTINS:
                self._assign_prefix(prefix)
            self._command_runs(prefix, command)

    # Assignments.

    def _assign_prefix(self, prefix: list[Token]) -> None:
        for word in prefix:
            self._assign_word(word, exported=False)

    def _assign_word(self, word: Token, exported: bool) -> None:
        name, parts = _split_assignment(word) or ("", [])
        value, problems = self._expand(parts)
        self._store(name, value, problems, word, exported)

    def _store(self, name: str, value: str | None, problems: list[str], word: Token, exported: bool) -> None:
        if name in self.readonly:
            self._exit(f"{name} is read only, so assigning it makes sh exit", word.start)
        line = self.lines.line_of(word.start)
        end_line = self.lines.line_of(word.end - 1)

        if value is None:
            written = self.text[self.text.index("=", word.start) + 1 : word.end]
            assignment = Assignment(name, written, line, end_line, exported, start=word.start, end=word.end)
            self.result.assignments.append(assignment)
            self._forget(name)
            self.result.uncertain.add(name)
            self._finding(
                "shell_unsupported",
                WARNING,
                f"the value of {name} depends on {', '.join(problems)}, which dhconf does not "
                f"evaluate, so it treats {name} as unknown",
                word.start,
            )
            return

        assignment = Assignment(name, value, line, end_line, exported, start=word.start, end=word.end)
        self.result.assignments.append(assignment)
        self.result.values[name] = value
        self.result.uncertain.discard(name)
        self.variables[name] = value
        if "\r" in value:
            self._finding(
                "shell_carriage_return",
                WARNING,
                f"the value of {name} contains a carriage return from a CRLF line end, and sh "
                f"keeps it: {value!r}. Convert the file to LF line ends",
                word.start,
            )

    def _declare(self, builtin: str, prefix: list[Token], arguments: list[Token]) -> None:
        # dash expands every argument before it performs the prefix assignments
        # or any of the declarations.
        planned = []
        for word in arguments:
            split = _split_assignment(word)
            if split:
                planned.append((split[0], *self._expand(split[1]), word))
                continue
            literal = word.literal()
            if literal is not None and literal.startswith("-"):
                continue
            if literal is None or not VALID_NAME.match(literal):
                self._assign_prefix(prefix)
                self._exit(f"{builtin}: {self._show(word)!r} is a bad variable name, so sh exits", word.start)
            planned.append((literal, None, [], word))

        self._assign_prefix(prefix)
        exported = builtin == "export"
        for name, value, problems, word in planned:
            if _split_assignment(word):
                self._store(name, value, problems, word, exported)
            elif exported and name in self.result.values:
                current = self.result.values[name]
                line = self.lines.line_of(word.start)
                assignment = Assignment(name, current, line, line, True, start=word.start, end=word.end)
                self.result.assignments.append(assignment)
            if builtin == "readonly":
                self.readonly.add(name)

    def _unset(self, arguments: list[Token]) -> None:
        for word in arguments:
            literal = word.literal()
            if literal == "-v":
                continue
            if literal == "-f":
                return  # the remaining names are functions
            if literal is None or not VALID_NAME.match(literal):
                self._exit(f"unset: {self._show(word)!r} is a bad variable name, so sh exits", word.start)
            if literal in self.readonly:
                self._exit(f"unset: {literal} is read only, so sh exits", word.start)
            self._forget(literal)
            self.result.uncertain.discard(literal)

    def _forget(self, name: str) -> None:
        self.result.values.pop(name, None)
        self.variables.pop(name, None)

    # Commands.

    def _check_arguments(self, command: list[Token]) -> None:
        opaque = [part.text for word in command for part in word.parts if part.kind == OPAQUE]
        if opaque:
            self._finding(
                "shell_unsupported",
                WARNING,
                f"sh expands {', '.join(map(repr, opaque))} here, which can assign variables, "
                "but dhconf does not evaluate it",
                command[0].start,
            )

    def _source(self, command: list[Token]) -> None:
        target = self._show(command[1]) if len(command) > 1 else ""
        self._finding(
            "shell_unsupported",
            WARNING,
            f"sh reads the file {target!r} here. dhconf does not follow it, so the variables set "
            "there are unknown, and if that file is missing, sh exits",
            command[0].start,
        )

    def _stop(self, builtin: str, command: list[Token]) -> None:
        if builtin == "exit":
            self._exit("'exit' ends the shell, so an init script that sources this file stops here", command[0].start)
        self._finding(
            "shell_unsupported",
            WARNING,
            "'return' ends the sourcing of this file here, so sh reads none of the lines after it",
            command[0].start,
        )
        raise _StopReading

    def _command_runs(self, prefix: list[Token], command: list[Token]) -> None:
        command_text = " ".join(self._show(word) for word in command)
        if len(command_text) > _MAX_SHOWN_COMMAND:
            command_text = command_text[:_MAX_SHOWN_COMMAND] + "..."
        message = (
            f"sh runs the command {command_text!r} when it sources this file, which dhconf does not do. "
            "If the command fails, as a word that names no program does with 'not found', an "
            "init script running under 'set -e' stops here"
        )
        name = command[0].literal()
        if prefix:
            names = ", ".join(_assignment_name(word) for word in prefix)
            message += (
                f". The assignment to {names} before it applies only to that command and is not "
                "kept. To assign a value with blanks, quote the whole value"
            )
        elif name is not None and VALID_NAME.match(name) and _starts_with_equals(command[1:]):
            message += f". To assign {name}, write {name}=value with no blanks around '='"
        elif name == "source":
            message += (
                ". dash has no 'source' built-in, and '.' is the POSIX form. Where /bin/sh is bash, "
                "'source' reads the file"
            )
        if any("\r" in self._show(word) for word in command):
            message += ". The carriage return comes from a CRLF line end; convert the file to LF line ends"
        self._finding("shell_command_runs", ERROR, message, command[0].start)

    def _exit(self, message: str, offset: int) -> None:
        self._finding("shell_exits", ERROR, message, offset)
        raise _StopReading

    # Expansion.

    def _expand(self, parts: list[Part]) -> tuple[str | None, list[str]]:
        """Return the value of an assignment's parts, and what dhconf cannot evaluate in them.

        The value is None when that list is not empty.
        """
        pieces: list[str] = []
        problems: list[str] = []
        for part in self._expand_tildes(parts, problems):
            if part.kind == TEXT:
                pieces.append(part.text)
            elif part.kind == PARAM:
                pieces.append(self._parameter(part.text, problems))
            else:
                problems.append(f"the {part.reason} {part.text!r}")
        return (None if problems else "".join(pieces)), problems

    def _parameter(self, name: str, problems: list[str]) -> str:
        if name in self.result.uncertain:
            problems.append(f"${name}, whose value is unknown")
        elif name in self.variables:
            return self.variables[name]
        elif name in _SHELL_SET_VARIABLES:
            problems.append(f"${name}, which the sourcing shell sets")
        return ""

    def _expand_tildes(self, parts: list[Part], problems: list[str]) -> list[Part]:
        # In an assignment, an unquoted "~" at the start of the value or after an
        # unquoted ":" is replaced by $HOME ("~/x") or a user's home ("~user/x").
        expanded: list[Part] = []
        at_start = True
        for index, part in enumerate(parts):
            if part.kind != TEXT or part.quoted:
                expanded.append(part)
                at_start = False
                continue
            pieces = re.split(r"(:)", part.text)
            for position, piece in enumerate(pieces):
                # The prefix ends at "/", ":" or the end of the word; a quoted
                # character or an expansion right after it prevents the expansion.
                ends_prefix = position < len(pieces) - 1 or index == len(parts) - 1
                if at_start and piece.startswith("~"):
                    piece = self._tilde(piece, ends_prefix, problems)
                expanded.append(Part(TEXT, piece, False))
                at_start = piece == ":"
        return expanded

    def _tilde(self, piece: str, ends_prefix: bool, problems: list[str]) -> str:
        login, slash, rest = piece[1:].partition("/")
        if not slash and not ends_prefix:
            return piece
        if login:
            problems.append(f"'~{login}', the home directory of user {login!r}")
            return piece
        if "HOME" not in self.variables:
            return piece
        return self.variables["HOME"] + slash + rest

    # Output.

    def _show(self, word: Token) -> str:
        value, problems = self._expand(word.parts) if word.kind == WORD else (None, [])
        return value if value is not None else self.text[word.start : word.end]

    def _finding(self, code: str, severity: str, message: str, offset: int) -> None:
        line = self.lines.line_of(offset)
        self.result.findings.append(Finding(code, severity, message, self.result.path, line))


def _split_assignment(word: Token) -> tuple[str, list[Part]] | None:
    """Split an assignment word into its name and the parts of its value, or return None for other words."""
    if word.kind != WORD or not word.parts:
        return None
    first = word.parts[0]
    if first.kind != TEXT or first.quoted:
        return None
    match = _ASSIGNMENT_START.match(first.text)
    if not match:
        return None
    value_parts = [Part(TEXT, first.text[match.end() :], False)] + word.parts[1:]
    return match.group(1), value_parts


def _assignment_name(word: Token) -> str:
    split = _split_assignment(word)
    assert split is not None, "only called for assignment words"
    return split[0]


def _starts_with_equals(arguments: list[Token]) -> bool:
    # "NAME = value" and "NAME =value": an assignment written with blanks.
    return bool(arguments) and (arguments[0].literal() or "").startswith("=")
