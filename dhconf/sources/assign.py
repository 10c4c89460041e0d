"""Set one variable in an existing variable file, keeping everything else in it.

The file may be read by /bin/sh (an init script sources it), by systemd (an
``EnvironmentFile=``), or by both. The new assignment is written as
``NAME="value"``, which both readers decode to the same string. Before the
result is returned, each reader reads it back: the edit must give the new
value and leave every other variable as it was.
"""

from __future__ import annotations

import re

from dhconf.errors import InvalidInput, NotSupported
from dhconf.sources.envfile import VALID_NAME, Assignment, VariableFile, parse_environment_file
from dhconf.sources.shellvars import comment_spans, read_shell_variables

READERS = {"sh": ("sh",), "systemd": ("systemd",), "both": ("sh", "systemd")}

# Inside double quotes, sh and systemd both turn these four escapes into the
# character; every other character stands for itself.
_NEEDS_BACKSLASH = re.compile(r'([\\"$`])')
_REJECTED_CHARACTERS = {"\n": "a newline", "\r": "a carriage return", "\0": "a NUL character"}


def quote_value(value: str, reader: str) -> str:
    """Return ``value`` in double quotes, as sh and systemd's EnvironmentFile both read it.

    Backslash, double quote, ``$`` and backtick get a backslash. A value with
    a newline, carriage return or NUL character raises InvalidInput: each
    assignment must stay on one line, and a carriage return is a line end for
    systemd but part of the value for sh.
    """
    _check_reader(reader)
    for character, description in _REJECTED_CHARACTERS.items():
        if character in value:
            raise InvalidInput(
                f"Cannot write the value {value!r}: it contains {description}, which an "
                "assignment in a variable file cannot carry on one line. Give the value without it.",
                value=value,
            )
    return '"' + _NEEDS_BACKSLASH.sub(r"\\\1", value) + '"'


def set_variable(text: str, name: str, value: str, *, reader: str, comment: str | None = None) -> str:
    """Return ``text`` with the variable ``name`` set to ``value`` for ``reader``.

    ``reader`` is "sh", "systemd" or "both". The last assignment of ``name``
    is replaced in place, including every line a multi-line value spans.
    Earlier ones, which it overrides, stay as they are. Without an
    assignment, ``NAME="value"`` is appended, after a ``# comment`` line if
    ``comment`` is given. For "sh" an ``export`` before the old assignment
    stays; for "systemd" and "both" the new line is a plain assignment, and a
    comment that sh saw after the old value is moved to a line above it.
    Raises InvalidInput for a bad name, reader or value, and NotSupported when
    the edit would not give the readers the new value or would change another
    variable.
    """
    readers = _check_reader(reader)
    if not VALID_NAME.match(name):
        raise InvalidInput(
            f"Cannot set the variable {name!r}: a name must match [A-Za-z_][A-Za-z0-9_]*.",
            name=name,
        )
    assignment_text = f"{name}={quote_value(value, reader)}"
    before = {kind: _read(kind, text) for kind in readers}
    newline = _line_ending(text)

    targets = [found for found in (result.last(name) for result in before.values()) if found]
    if not targets:
        _check_crlf(newline, readers, name, "the file")
        new_text = _append(text, assignment_text, comment, newline)
    elif readers == ("sh",):
        target = targets[0]
        # sh reads the CR of a CRLF line end as part of the word before it.
        if text[target.start : target.end].endswith("\r") or text.startswith("\r", target.end):
            _check_crlf("\r\n", readers, name, f"line {target.end_line}")
        new_text = text[: target.start] + assignment_text + text[target.end :]
    else:
        new_text = _replace_lines(text, name, assignment_text, before)

    _verify(before, new_text, name, value)
    return new_text


def _check_reader(reader: str) -> tuple[str, ...]:
    if reader not in READERS:
        raise InvalidInput(
            f"Invalid reader {reader!r} for a variable file: use 'sh', 'systemd' or 'both'.",
            reader=reader,
        )
    return READERS[reader]


def _read(kind: str, text: str) -> VariableFile:
    if kind == "sh":
        return read_shell_variables(text, "<edited file>")
    return parse_environment_file(text, "<edited file>")


def _line_ending(text: str) -> str:
    """Return the line end that most lines of ``text`` use ("\\n" when none)."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 > text.count("\n") else "\n"


def _check_crlf(line_end: str, readers: tuple[str, ...], name: str, where: str) -> None:
    if line_end == "\r\n" and "sh" in readers:
        raise NotSupported(
            f"Cannot set {name}: {where} uses CRLF line ends, and sh keeps the carriage return "
            "in the value. Convert the file to LF line ends (for example with dos2unix) and try again.",
            variable=name,
        )


def _append(text: str, assignment_text: str, comment: str | None, newline: str) -> str:
    if text and not text.endswith("\n"):
        text += newline
    added = []
    if comment is not None:
        if "\r" in comment:
            raise InvalidInput(
                f"Cannot write the comment {comment!r}: it contains a carriage return. "
                "Give the comment without it.",
                comment=comment,
            )
        added = [f"# {line}".rstrip() for line in comment.split("\n")]
    added.append(assignment_text)
    return text + newline.join(added) + newline


def _replace_lines(text: str, name: str, assignment_text: str, before: dict[str, VariableFile]) -> str:
    """Replace the whole lines of the last assignment of ``name`` with ``assignment_text``."""
    target = max((result.last(name) for result in before.values() if result.last(name)), key=_start)
    first, last = target.line, target.end_line
    # Another reader may see the same assignment spanning more lines.
    for result in before.values():
        for assignment in result.assignments:
            if assignment.name == name and assignment.line <= last and assignment.end_line >= first:
                first, last = min(first, assignment.line), max(last, assignment.end_line)

    if "systemd" in before and _runs_to_end_of_file(before["systemd"], name, text):
        raise NotSupported(
            f"Cannot set {name}: its value on line {first} opens a quote that is never closed, so "
            "systemd reads the rest of the file as its value. Close the quote and try again.",
            variable=name,
        )
    region_start = _line_start(text, first)
    region_end = _line_end(text, last)
    line_end = text[region_end : region_end + 2] if text.startswith("\r\n", region_end) else "\n"
    _check_crlf(line_end, tuple(before), name, f"line {last}")

    region = text[region_start:region_end]
    indent = region[: len(region) - len(region.lstrip(" \t"))]
    moved = [
        indent + text[start:end].rstrip("\r")
        for start, end in comment_spans(text)
        if region_start + len(indent) < start < region_end
    ]
    new_region = "".join(comment + line_end for comment in moved) + indent + assignment_text
    return text[:region_start] + new_region + text[region_end:]


def _start(assignment: Assignment) -> int:
    return assignment.start


def _runs_to_end_of_file(result: VariableFile, name: str, text: str) -> bool:
    # Only the last assignment in a file can hold an unterminated quote.
    last = result.last(name)
    unterminated = any(finding.code == "envfile_unterminated_quote" for finding in result.findings)
    return last is not None and last.end == len(text) and unterminated


def _line_start(text: str, line: int) -> int:
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    return offset


def _line_end(text: str, line: int) -> int:
    """Return the offset of the line end of ``line``: its "\\r\\n" or "\\n", or the end of the text."""
    newline = text.find("\n", _line_start(text, line))
    if newline < 0:
        return len(text)
    return newline - 1 if newline > 0 and text[newline - 1] == "\r" else newline


def _verify(before: dict[str, VariableFile], new_text: str, name: str, value: str) -> None:
    for kind, old in before.items():
        new = _read(kind, new_text)
        reader = "sh" if kind == "sh" else "systemd's EnvironmentFile="
        if name in new.uncertain or new.values.get(name) != value:
            if name in new.uncertain:
                outcome = "a value that dhconf cannot compute"
            elif name in new.values:
                outcome = repr(new.values[name])
            else:
                outcome = "no value at all"
            raise NotSupported(
                f"Cannot set {name} to {value!r}: after the edit, {reader} would read {outcome}. "
                "Check the file's findings, fix the lines they name, and try again.",
                variable=name,
            )
        changed = sorted(
            other
            for other in (set(old.values) | set(new.values) | old.uncertain | new.uncertain) - {name}
            if old.values.get(other) != new.values.get(other) or (other in old.uncertain) != (other in new.uncertain)
        )
        if changed:
            raise NotSupported(
                f"Cannot set {name}: the edit would also change {', '.join(changed)} for {reader}, "
                f"because they share a line with {name}. Put {name} on a line of its own and try again.",
                variable=name,
            )
