"""Tokens and complete commands of a POSIX sh file, as dash reads them.

This is the syntax half of the /bin/sh reader in ``shellvars``: it splits a
file into words, operators and line ends, keeps the quoting of every
character (which decides what is an assignment or a reserved word), and
groups the tokens into the complete commands that dash parses and runs one
after another. Nothing here runs or expands anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

TEXT = "text"  # characters; quoted or not
PARAM = "param"  # $NAME or ${NAME}
OPAQUE = "opaque"  # an expansion whose result dhconf does not compute

WORD = "word"
OPERATOR = "operator"
NEWLINE = "newline"
END = "end"
ERROR = "error"

_NAME_AT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WORD_END = " \t\n;&|<>()"
_OPERATORS = ("<<-", ";;", "&&", "||", "<<", ">>", "<&", ">&", "<>", ">|", ";", "&", "|", "<", ">", "(", ")")
_REDIRECTIONS = {"<<-", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">"}
_SPECIAL_PARAMETERS = "0123456789@*#?$!-"
_CASE_KEYWORD = re.compile(r"(case|esac)(?=[ \t\n;&|()]|\Z)")

_OPENERS = {"if": "fi", "case": "esac", "for": "done", "while": "done", "until": "done", "{": "}"}
_CLOSERS = {"fi": ("if",), "esac": ("case",), "done": ("for", "while", "until"), "}": ("{",)}
_MIDDLES = {"then": ("if",), "else": ("if",), "elif": ("if",), "do": ("for", "while", "until")}
_RESERVED = set(_OPENERS) | set(_CLOSERS) | set(_MIDDLES) | {"!"}
_EXPECTED_CLOSER = {**_OPENERS, "(": ")", "name()": ")"}
_COMPOUND_NAMES = {
    "if": "an 'if' block",
    "case": "a 'case' block",
    "for": "a 'for' loop",
    "while": "a 'while' loop",
    "until": "an 'until' loop",
    "{": "a '{ ... }' group",
    "!": "a negated command '!'",
}
_OPERATOR_NAMES = {
    "&": "a background command '&'",
    "&&": "an '&&' list",
    "||": "an '||' list",
    "|": "a pipeline '|'",
}


@dataclass
class Part:
    """A run of a word: characters, a variable reference, or an expansion left unevaluated.

    ``text`` is the characters for TEXT, the variable name for PARAM, and the
    source text for OPAQUE; ``reason`` names an OPAQUE expansion.
    """

    kind: str
    text: str
    quoted: bool
    reason: str = ""


@dataclass
class Token:
    """A word, an operator, a line end, the end of the text, or a syntax error."""

    kind: str
    start: int
    end: int
    text: str = ""  # the operator, or the syntax error message
    parts: list[Part] = field(default_factory=list)

    def literal(self) -> str | None:
        """Return the word when it is plain unquoted text, else None."""
        if self.kind != WORD or len(self.parts) != 1:
            return None
        part = self.parts[0]
        return part.text if part.kind == TEXT and not part.quoted else None


@dataclass
class CompleteCommand:
    """The tokens up to a line end that is not inside a compound command.

    ``compound`` names the first construct that makes it more than a list of
    simple commands separated by ";" (None when there is none). ``error`` is
    the syntax error that makes dash stop before running any of it.
    """

    tokens: list[Token]
    compound: str | None = None
    error: str | None = None
    error_offset: int = 0


class _Unterminated(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def tokenize(text: str) -> tuple[list[Token], list[tuple[int, int]]]:
    """Split ``text`` into tokens, ending with an END or ERROR token, plus the comment spans.

    A comment span runs from its "#" to the end of its line (exclusive).
    """
    lexer = _Lexer(text)
    return lexer.run(), lexer.comments


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []
        self.comments: list[tuple[int, int]] = []
        self.here_documents: list[tuple[str, bool]] = []
        self.next_word_is_delimiter: bool | None = None

    def run(self) -> list[Token]:
        try:
            self._scan()
        except _Unterminated as err:
            self.tokens.append(Token(ERROR, err.offset, len(self.text), text=err.message))
        else:
            self.tokens.append(Token(END, len(self.text), len(self.text)))
        return self.tokens

    def _scan(self) -> None:
        text = self.text
        i = 0
        while i < len(text):
            char = text[i]
            if char in " \t":
                i += 1
            elif char == "\\" and text.startswith("\n", i + 1):
                i += 2
            elif char == "\n":
                self.tokens.append(Token(NEWLINE, i, i + 1))
                i = self._skip_here_documents(i + 1)
            elif char == "#":
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                self.comments.append((i, end))
                i = end
            elif char in ";&|<>()":
                operator = next(op for op in _OPERATORS if text.startswith(op, i))
                self.tokens.append(Token(OPERATOR, i, i + len(operator), text=operator))
                if operator in ("<<", "<<-"):
                    self.next_word_is_delimiter = operator == "<<-"
                i += len(operator)
            else:
                token = self._word(i)
                self.tokens.append(token)
                if self.next_word_is_delimiter is not None:
                    delimiter = "".join(part.text for part in token.parts)
                    self.here_documents.append((delimiter, self.next_word_is_delimiter))
                    self.next_word_is_delimiter = None
                i = token.end

    def _skip_here_documents(self, i: int) -> int:
        # The body of each pending here-document follows the line that started it.
        text = self.text
        for delimiter, strip_tabs in self.here_documents:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line = text[i:end].lstrip("\t") if strip_tabs else text[i:end]
                i = end + 1
                if line == delimiter:
                    break
        self.here_documents = []
        return min(i, len(text))

    def _word(self, start: int) -> Token:
        text = self.text
        parts: list[Part] = []
        i = start
        while i < len(text) and text[i] not in _WORD_END:
            char = text[i]
            if char == "\\":
                if i + 1 >= len(text):
                    _add_text(parts, "\\", quoted=False)
                    i += 1
                elif text[i + 1] == "\n":
                    i += 2
                else:
                    _add_text(parts, text[i + 1], quoted=True)
                    i += 2
            elif char == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise _Unterminated("unterminated quoted string", i)
                _add_text(parts, "", quoted=True)
                _add_text(parts, text[i + 1 : end], quoted=True)
                i = end + 1
            elif char == '"':
                i = self._double_quoted(i, parts)
            elif char == "$":
                i = self._dollar(i, parts, quoted=False)
            elif char == "`":
                end = self._skip_backquote(i + 1)
                parts.append(Part(OPAQUE, text[i:end], False, "command substitution"))
                i = end
            else:
                _add_text(parts, char, quoted=False)
                i += 1
        return Token(WORD, start, i, parts=parts)

    def _double_quoted(self, start: int, parts: list[Part]) -> int:
        text = self.text
        _add_text(parts, "", quoted=True)
        i = start + 1
        while i < len(text):
            char = text[i]
            if char == '"':
                return i + 1
            if char == "\\":
                following = text[i + 1 : i + 2]
                if following == "\n":
                    i += 2
                elif following and following in '$`"\\':
                    _add_text(parts, following, quoted=True)
                    i += 2
                else:
                    _add_text(parts, "\\", quoted=True)
                    i += 1
            elif char == "$":
                i = self._dollar(i, parts, quoted=True)
            elif char == "`":
                end = self._skip_backquote(i + 1)
                parts.append(Part(OPAQUE, text[i:end], True, "command substitution"))
                i = end
            else:
                _add_text(parts, char, quoted=True)
                i += 1
        raise _Unterminated("unterminated quoted string", start)

    def _dollar(self, start: int, parts: list[Part], quoted: bool) -> int:
        text = self.text
        following = text[start + 1 : start + 2]
        if following == "{":
            end = self._skip_balanced(start + 2, "}")
            inner = text[start + 2 : end - 1]
            if not inner:
                raise _Unterminated("bad substitution '${}'", start)
            if _SIMPLE_NAME.match(inner):
                parts.append(Part(PARAM, inner, quoted))
            else:
                parts.append(Part(OPAQUE, text[start:end], quoted, "parameter expansion"))
            return end
        if following == "(":
            arithmetic = text.startswith("((", start + 1)
            end = self._skip_balanced(start + 2, ")")
            reason = "arithmetic expansion" if arithmetic else "command substitution"
            parts.append(Part(OPAQUE, text[start:end], quoted, reason))
            return end
        name = _NAME_AT.match(text, start + 1)
        if name:
            parts.append(Part(PARAM, name.group(0), quoted))
            return name.end()
        if following and following in _SPECIAL_PARAMETERS:
            parts.append(Part(OPAQUE, text[start : start + 2], quoted, "special parameter"))
            return start + 2
        # A "$" before anything else is an ordinary character.
        _add_text(parts, "$", quoted)
        return start + 1

    def _skip_balanced(self, start: int, close: str) -> int:
        text = self.text
        case_depth = 0  # inside "case ... esac", a ")" ends a pattern, not the substitution
        i = start
        while i < len(text):
            char = text[i]
            keyword = _CASE_KEYWORD.match(text, i) if close == ")" and _at_word_start(text, i, start) else None
            if keyword:
                case_depth += 1 if keyword.group(1) == "case" else -1
                i = keyword.end(1)
            elif char == ")" and case_depth > 0:
                i += 1
            elif char == "\\":
                i += 2
            elif char == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise _Unterminated("unterminated quoted string", i)
                i = end + 1
            elif char == '"':
                i = self._double_quoted(i, [])
            elif char == "`":
                i = self._skip_backquote(i + 1)
            elif char == "$" and text.startswith("{", i + 1):
                i = self._skip_balanced(i + 2, "}")
            elif char == "$" and text.startswith("(", i + 1):
                i = self._skip_balanced(i + 2, ")")
            elif char == "(" and close == ")":
                i = self._skip_balanced(i + 1, ")")
            elif char == close:
                return i + 1
            else:
                i += 1
        raise _Unterminated(f"missing '{close}'", start)

    def _skip_backquote(self, start: int) -> int:
        text = self.text
        i = start
        while i < len(text):
            if text[i] == "\\":
                i += 2
            elif text[i] == "`":
                return i + 1
            else:
                i += 1
        raise _Unterminated("unterminated backquote substitution", start - 1)


def _at_word_start(text: str, index: int, start: int) -> bool:
    return index == start or text[index - 1] in " \t\n;&|("


def _add_text(parts: list[Part], text: str, quoted: bool) -> None:
    # Runs of characters with the same quoting are merged, so that "NAME=" at
    # the start of a word is one part when it is unquoted.
    if parts and parts[-1].kind == TEXT and parts[-1].quoted == quoted and (text or quoted):
        parts[-1].text += text
    else:
        parts.append(Part(TEXT, text, quoted))


def group_commands(tokens: list[Token]) -> Iterator[CompleteCommand]:
    """Yield the complete commands of ``tokens`` in order, as dash parses them.

    A command with a syntax error is the last one yielded: dash runs the
    commands before it and then exits.
    """
    position = 0
    while True:
        while tokens[position].kind == NEWLINE:
            position += 1
        if tokens[position].kind == END:
            return
        command, position = _collect(tokens, position)
        yield command
        if command.error is not None:
            return


def _collect(tokens: list[Token], position: int) -> tuple[CompleteCommand, int]:
    command = CompleteCommand(tokens=[])
    stack: list[str] = []
    command_position = True
    continued = False
    redirection_target = False

    while True:
        token = tokens[position]
        error = None
        if token.kind == ERROR:
            error = token.text
        elif token.kind == END:
            if stack:
                error = f"end of file unexpected (expecting '{_EXPECTED_CLOSER[stack[-1]]}')"
            elif continued:
                error = "end of file unexpected"
            else:
                return command, position
        elif token.kind == NEWLINE:
            position += 1
            if not stack and not continued:
                return command, position
            command_position = True
            command.tokens.append(token)
            continue
        elif token.kind == OPERATOR:
            closes_function_name = token.text == ")" and bool(stack) and stack[-1] == "name()"
            error = _operator(token.text, stack, command, command_position, tokens, position)
            # After "&&", "||", "|" and a function's "name()", the command goes on past a line end.
            continued = token.text in ("&&", "||", "|") or closes_function_name
            redirection_target = token.text in _REDIRECTIONS
            if closes_function_name:
                command_position = True
            elif not redirection_target:
                command_position = _command_position_after(token.text, stack)
        else:
            word = token.literal()
            continued = False
            if redirection_target:
                redirection_target = False
            elif command_position and word in _RESERVED:
                error = _reserved_word(word, stack, command)
                command_position = word not in ("case", "for") and word not in _CLOSERS
            elif stack and stack[-1] == "case" and word == "in":
                command_position = True  # so that "esac" right after "in" is seen
            else:
                command_position = False

        if error is not None:
            command.error = error
            command.error_offset = token.start
            return command, position
        command.tokens.append(token)
        position += 1


def _operator(
    operator: str,
    stack: list[str],
    command: CompleteCommand,
    command_position: bool,
    tokens: list[Token],
    position: int,
) -> str | None:
    in_case = bool(stack) and stack[-1] == "case"
    if operator == ";;":
        return None if in_case else '";;" unexpected'
    if operator in (";", "&", "&&", "||", "|") and command_position:
        return f'"{operator}" unexpected'
    if operator in _OPERATOR_NAMES:
        command.compound = command.compound or _OPERATOR_NAMES[operator]
    elif operator in _REDIRECTIONS:
        command.compound = command.compound or f"a redirection '{operator}'"
    elif operator == "(" and not in_case:
        after_word = position > 0 and tokens[position - 1].kind == WORD and not command_position
        command.compound = command.compound or ("a function definition" if after_word else "a subshell '( ... )'")
        stack.append("name()" if after_word else "(")
    elif operator == ")" and not in_case:
        if not stack or stack[-1] not in ("(", "name()"):
            return '")" unexpected'
        stack.pop()
    return None


def _command_position_after(operator: str, stack: list[str]) -> bool:
    # After a subshell's ")" only an operator or a line end may follow, but a
    # ")" that ends a case pattern is followed by a command.
    if operator == ")":
        return bool(stack) and stack[-1] == "case"
    return True


def _reserved_word(word: str, stack: list[str], command: CompleteCommand) -> str | None:
    if word in _OPENERS or word == "!":
        command.compound = command.compound or _COMPOUND_NAMES[word]
        if word != "!":
            stack.append(word)
        return None
    allowed = _CLOSERS.get(word) or _MIDDLES[word]
    if not stack or stack[-1] not in allowed:
        return f'"{word}" unexpected'
    if word in _CLOSERS:
        stack.pop()
    return None
