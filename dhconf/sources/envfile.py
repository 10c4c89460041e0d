"""Read a variable file the way systemd's ``EnvironmentFile=`` does.

The parser is a port of the state machine in systemd's src/basic/env-file.c
(parse_env_file_internal, systemd 254 and later). After it, systemd's
src/core/execute.c checks each name before the variables reach a unit: a name
must match ``[A-Za-z_][A-Za-z0-9_]*``, and any other assignment is dropped with
"Ignoring invalid environment assignment". This is not a shell: there is no
``$VAR`` expansion, no ``export``, no ``;``, and no comment after a value.

The data classes here are shared with the /bin/sh reader in ``shellvars``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from dhconf.findings import WARNING, Finding

VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# The character classes of systemd's src/basic/string-util.h and escape.h.
_WHITESPACE = " \t\n\r"
_NEWLINE = "\n\r"
_COMMENTS = "#;"
_SHELL_NEED_ESCAPE = '"\\`$'

# A "$" that sh would expand, but systemd keeps as it is.
_EXPANSION_START = re.compile(r"\$[A-Za-z_{(]")

_MAX_SHOWN_VALUE = 200  # characters of a runaway value quoted in a finding


@dataclass(frozen=True)
class Assignment:
    """One assignment of a variable that a reader performs.

    ``line`` and ``end_line`` are 1-based and inclusive, so a value that spans
    lines has ``end_line > line``. ``start`` and ``end`` are the offsets of the
    assignment in the text (end exclusive): for systemd from the key to the end
    of the value, for sh the ``NAME=value`` word. They take no part in equality.
    """

    name: str
    value: str
    line: int
    end_line: int
    exported: bool = False
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass
class VariableFile:
    """The variables that one reader takes from one file.

    ``values`` has the final value of each variable the file assigns (later
    assignments win). ``findings`` names the lines the reader ignores or that
    dhconf cannot follow. ``uncertain`` lists the variables whose final value
    depends on something dhconf does not evaluate, such as a command
    substitution or an ``if`` block. They are left out of ``values``, and a
    finding gives the reason. Only the sh reader fills it.
    """

    path: str
    values: dict[str, str] = field(default_factory=dict)
    assignments: list[Assignment] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    uncertain: set[str] = field(default_factory=set)
    # The last assignment of each name, rebuilt when ``assignments`` has grown, because the
    # readers only append. detect looks up every variable, which a scan made quadratic.
    _last: dict[str, Assignment] = field(default_factory=dict, init=False, repr=False, compare=False)
    _indexed: int = field(default=0, init=False, repr=False, compare=False)

    def last(self, name: str) -> Assignment | None:
        """Return the last assignment of ``name`` in file order, or None."""
        if self._indexed != len(self.assignments):
            self._last = {assignment.name: assignment for assignment in self.assignments}
            self._indexed = len(self.assignments)
        return self._last.get(name)


class LineIndex:
    """A map from offsets in a text to 1-based line numbers, where only "\\n" ends a line."""

    def __init__(self, text: str) -> None:
        self._newlines = [match.start() for match in re.finditer("\n", text)]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    @property
    def count(self) -> int:
        return len(self._newlines) + 1


def parse_environment_file(text: str, path: str) -> VariableFile:
    """Parse ``text`` with systemd's EnvironmentFile= rules (systemd 254 and later).

    ``path`` is the host path, used in findings. Lines that systemd ignores,
    an unterminated quote, text after a closing quote and ``$`` that systemd
    does not expand give warnings.
    """
    return _EnvFileParser(text, path).parse()


class _EnvFileParser:
    """One pass of env-file.c's state machine over a text, character by character."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.lines = LineIndex(text)
        self.result = VariableFile(path=path)

        self.state = "PRE_KEY"
        self.key: list[str] = []
        self.value: list[str] = []
        self.key_start = 0
        self.last_key_whitespace: int | None = None
        self.last_value_whitespace: int | None = None

        # Bookkeeping for findings only: systemd itself does not track these.
        self.quote_start = 0
        self.closed_quote = False
        self.space_after_quote = False
        self.warned_after_quote = False
        self.literal_quote_after_quote = False
        self.literal_dollar = False
        self.comment_ends_in_backslash_at: int | None = None

    def parse(self) -> VariableFile:
        for offset, char in enumerate(self.text):
            getattr(self, "_" + self.state.lower())(offset, char)
        self._end_of_file()
        return self.result

    # States, in the order of env-file.c.

    def _pre_key(self, offset: int, char: str) -> None:
        if char in _COMMENTS:
            self.state = "COMMENT"
        elif char not in _WHITESPACE:
            self._check_comment_continuation(offset)
            self.state = "KEY"
            self.key = [char]
            self.key_start = offset
            self.last_key_whitespace = None

    def _key(self, offset: int, char: str) -> None:
        if char in _NEWLINE:
            self.state = "PRE_KEY"
            self._ignore_line_without_equals(offset)
        elif char == "=":
            self.state = "PRE_VALUE"
            self.value = []
            self.last_value_whitespace = None
            self.closed_quote = False
            self.space_after_quote = False
            self.warned_after_quote = False
            self.literal_quote_after_quote = False
            self.literal_dollar = False
        else:
            if char not in _WHITESPACE:
                self.last_key_whitespace = None
            elif self.last_key_whitespace is None:
                self.last_key_whitespace = len(self.key)
            self.key.append(char)

    def _pre_value(self, offset: int, char: str) -> None:
        if char in _NEWLINE:
            self.state = "PRE_KEY"
            self._push(offset)
        elif char in "'\"":
            self._note_text_after_quote(offset, char)
            self.quote_start = offset
            self.state = "SINGLE_QUOTE_VALUE" if char == "'" else "DOUBLE_QUOTE_VALUE"
        elif char == "\\":
            self._note_text_after_quote(offset, char)
            self.state = "VALUE_ESCAPE"
        elif char not in _WHITESPACE:
            self._note_text_after_quote(offset, char)
            self.state = "VALUE"
            self._append_unescaped(offset, char)
        elif self.closed_quote:
            self.space_after_quote = True

    def _value(self, offset: int, char: str) -> None:
        if char in _NEWLINE:
            self.state = "PRE_KEY"
            if self.last_value_whitespace is not None:
                del self.value[self.last_value_whitespace :]
            self._push(offset)
        elif char == "\\":
            self.state = "VALUE_ESCAPE"
            self.last_value_whitespace = None
        else:
            if char not in _WHITESPACE:
                self.last_value_whitespace = None
            elif self.last_value_whitespace is None:
                self.last_value_whitespace = len(self.value)
            if char in "'\"" and self.closed_quote:
                self.literal_quote_after_quote = True
            self._append_unescaped(offset, char)

    def _value_escape(self, offset: int, char: str) -> None:
        self.state = "VALUE"
        # A backslash before a line end joins the lines, and before any other character it is dropped.
        if char not in _NEWLINE:
            self.value.append(char)

    def _single_quote_value(self, offset: int, char: str) -> None:
        if char == "'":
            self._close_quote()
        else:
            self.value.append(char)

    def _double_quote_value(self, offset: int, char: str) -> None:
        if char == '"':
            self._close_quote()
        elif char == "\\":
            self.state = "DOUBLE_QUOTE_VALUE_ESCAPE"
        else:
            self._append_unescaped(offset, char)

    def _double_quote_value_escape(self, offset: int, char: str) -> None:
        self.state = "DOUBLE_QUOTE_VALUE"
        if char in _SHELL_NEED_ESCAPE:
            self.value.append(char)
        elif char != "\n":
            # Like sh, keep the backslash before any other character (systemd 247 and later).
            self.value.extend(("\\", char))

    def _comment(self, offset: int, char: str) -> None:
        if char == "\\":
            self.state = "COMMENT_ESCAPE"
        elif char in _NEWLINE:
            self.state = "PRE_KEY"

    def _comment_escape(self, offset: int, char: str) -> None:
        if char in _NEWLINE:
            self.state = "PRE_KEY"
            # Only a backslash right before "\n" made older versions go on with the comment.
            if char == "\n":
                self.comment_ends_in_backslash_at = offset
        else:
            self.state = "COMMENT"

    def _end_of_file(self) -> None:
        state = self.state
        if state == "KEY":
            self._ignore_line_without_equals(len(self.text))
            return
        if state not in (
            "PRE_VALUE",
            "VALUE",
            "VALUE_ESCAPE",
            "SINGLE_QUOTE_VALUE",
            "DOUBLE_QUOTE_VALUE",
            "DOUBLE_QUOTE_VALUE_ESCAPE",
        ):
            return
        if state == "VALUE" and self.last_value_whitespace is not None:
            del self.value[self.last_value_whitespace :]
        if state in ("SINGLE_QUOTE_VALUE", "DOUBLE_QUOTE_VALUE", "DOUBLE_QUOTE_VALUE_ESCAPE"):
            self._warn_unterminated_quote("".join(self.value))
        self._push(len(self.text))

    # Helpers.

    def _append_unescaped(self, offset: int, char: str) -> None:
        if char == "$" and _EXPANSION_START.match(self.text, offset):
            self.literal_dollar = True
        self.value.append(char)

    def _close_quote(self) -> None:
        self.state = "PRE_VALUE"
        self.closed_quote = True
        self.space_after_quote = False

    def _note_text_after_quote(self, offset: int, char: str) -> None:
        if not self.space_after_quote:
            return
        self.space_after_quote = False
        self.warned_after_quote = True
        line = self.lines.line_of(offset)
        name = self._key_text()
        if char == "#":
            self._warn(
                "envfile_trailing_comment",
                f"systemd has no comments after a value: it appends {self._rest_of_line(offset)!r} "
                f"to the value of {name} after the closing quote; put the comment on a line of its own",
                line,
            )
        else:
            self._warn(
                "envfile_text_after_quote",
                f"systemd appends {self._rest_of_line(offset)!r} to the value of {name} after the "
                "closing quote and drops the blanks before it; quote the whole value as one string",
                line,
            )

    def _rest_of_line(self, offset: int) -> str:
        match = re.compile(r"[^\r\n]*").match(self.text, offset)
        return match.group(0).rstrip() if match else ""

    def _key_text(self) -> str:
        key = self.key
        if self.last_key_whitespace is not None:
            key = key[: self.last_key_whitespace]
        return "".join(key)

    def _push(self, end: int) -> None:
        name = self._key_text()
        value = "".join(self.value)
        line = self.lines.line_of(self.key_start)
        end_line = self.lines.line_of(max(end - 1, self.key_start))
        self.key = []
        self.value = []

        if not VALID_NAME.match(name):
            self._ignore_invalid_name(name, value, line)
            return
        if self.literal_quote_after_quote and not self.warned_after_quote:
            self._warn(
                "envfile_text_after_quote",
                f"systemd keeps the quote characters after the first closing quote of {name} "
                f"literally, so its value is {value!r}; quote the whole value as one string",
                line,
            )
        if self.literal_dollar:
            self._warn(
                "envfile_literal_dollar",
                f"systemd does not expand variables or commands in an EnvironmentFile: "
                f"the value of {name} keeps the '$' text as it is: {value!r}",
                line,
            )
        assignment = Assignment(name, value, line, end_line, start=self.key_start, end=end)
        self.result.assignments.append(assignment)
        self.result.values[name] = value

    def _ignore_invalid_name(self, name: str, value: str, line: int) -> None:
        words = name.split()
        if len(words) == 2 and words[0] == "export" and VALID_NAME.match(words[1]):
            advice = f"systemd has no 'export'; write {words[1]}=... without it (sh reads that too)"
        else:
            advice = "names must match [A-Za-z_][A-Za-z0-9_]*"
        self._warn(
            "envfile_ignored_line",
            f"systemd ignores the assignment of {value!r} to {name!r}, which is not a valid "
            f"variable name: {advice}",
            line,
        )

    def _ignore_line_without_equals(self, end: int) -> None:
        line_text = self.text[self.key_start : end].strip()
        self._warn(
            "envfile_ignored_line",
            f"systemd ignores {line_text!r}: a line without '=' assigns nothing",
            self.lines.line_of(self.key_start),
        )
        self.key = []

    def _check_comment_continuation(self, offset: int) -> None:
        # systemd 253 and older read the line after a comment that ends in a
        # backslash as part of the comment, but 254 reads it as a line of its own.
        if self.comment_ends_in_backslash_at is None:
            return
        previous_end = self.comment_ends_in_backslash_at
        self.comment_ends_in_backslash_at = None
        if self.lines.line_of(offset) != self.lines.line_of(previous_end) + 1:
            return
        self._warn(
            "envfile_comment_continuation",
            "the comment on the line before ends in a backslash: systemd 253 and older "
            "take this line as part of that comment and ignore it; 254 and later read it; "
            "remove the backslash",
            self.lines.line_of(offset),
        )

    def _warn_unterminated_quote(self, value: str) -> None:
        name = self._key_text()
        quote_line = self.lines.line_of(self.quote_start)
        last_line = self.lines.line_of(max(len(self.text) - 1, 0))
        excerpt = value if len(value) <= _MAX_SHOWN_VALUE else value[:_MAX_SHOWN_VALUE] + "..."
        self._warn(
            "envfile_unterminated_quote",
            f"the quote opened on line {quote_line} is never closed: systemd does not fail but "
            f"takes everything after it up to the end of the file (line {last_line}) as the value "
            f"of {name}, newlines included, so the lines after it assign nothing. The value is "
            f"{excerpt!r}. Close the quote",
            quote_line,
        )

    def _warn(self, code: str, message: str, line: int) -> None:
        self.result.findings.append(Finding(code, WARNING, message, self.result.path, line))
