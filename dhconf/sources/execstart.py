"""systemd command lines (``ExecStart=`` and the other ``Exec*=`` settings) as argv, and back.

Reading follows systemd's ``config_parse_exec`` (src/core/load-fragment.c),
which splits the value into words when the unit is loaded (see
``dhconf.sources.unitwords``). Variables are substituted later, each time the
process starts, by ``replace_env_argv`` (src/basic/env-util.c);
``expand_variables`` does that step. The behaviour of each function was
checked against a running systemd 252 user manager.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dhconf.errors import InvalidInput, UnitSyntaxError
from dhconf.sources.unitwords import (
    ends_word,
    extract_word,
    is_control,
    quote_word,
    resolve_specifiers,
    skip_whitespace,
    split_value_words,
)

# Prefixes of the executable. "-" ignores the exit status, "@" takes the next
# word as argv[0], ":" turns off variable substitution, "+" runs with full
# privileges. "!" and "!!" skip only the user and group change and exclude "+".
# "|" runs the command through the user's shell (systemd 258 and later).
PREFIX_CHARS = "-@:+!|"

_VARIABLE_WORD = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")


@dataclass(frozen=True)
class Command:
    """One command of an ``Exec*=`` setting.

    ``prefixes`` are the special characters before the executable, as written.
    ``argv`` contains the words after systemd's unquoting and before variable
    substitution, so ``$DOCKER_OPTS`` stays one word. ``argv[0]`` is the
    executable; with the ``@`` prefix, ``argv[1]`` is the argv[0] that the
    process sees. ``%%`` has become ``%``, and other specifiers (``%h``) are
    kept as written because dhconf does not expand them.
    """

    prefixes: str
    argv: tuple[str, ...]

    @property
    def ignores_failure(self) -> bool:
        return "-" in self.prefixes

    @property
    def substitutes_variables(self) -> bool:
        return ":" not in self.prefixes


def parse_command_line(value: str) -> Command:
    """Parse the value of an ``Exec*=`` setting that contains one command.

    Raises ``UnitSyntaxError`` for what systemd cannot parse (an unterminated
    quote, a dangling backslash, an unknown specifier, an unusable executable),
    and when the value contains several commands separated by ``;``.
    """
    commands = parse_command_lines(value)
    if len(commands) != 1:
        raise UnitSyntaxError(
            f"invalid command line {value!r}: expected one command, found {len(commands)}. "
            "Write a single command without ';' separators",
            value=value,
            fatal=True,
        )
    return commands[0]


def parse_command_lines(value: str) -> list[Command]:
    """Parse an ``Exec*=`` value into its commands (``;`` separates them for Type=oneshot).

    An empty value yields no command, because in a unit it resets the list.
    On an error, ``UnitSyntaxError.details["fatal"]`` is true when systemd
    rejects the whole unit (load state "bad-setting"). It is false when
    systemd ignores only this setting, which it does when the executable word
    itself cannot be split or when the command has the "-" prefix.
    """
    commands: list[Command] = []
    pos = skip_whitespace(value, 0)
    while pos < len(value):
        first, pos = extract_word(value, pos, cunescape=True, strict_end=True, fatal=False)
        if first is None:
            break
        if first == ";":
            continue
        prefixes, executable = _split_prefixes(first)
        fatal = "-" not in prefixes
        executable = resolve_specifiers(executable, value, fatal=fatal)
        _check_executable(executable, prefixes, value, fatal=fatal)
        argv = [executable]
        more = False
        while pos < len(value):
            if value[pos] == ";" and ends_word(value, pos + 1):
                pos = skip_whitespace(value, pos + 1)
                more = True
                break
            if value.startswith("\\;", pos) and ends_word(value, pos + 2):
                argv.append(";")
                pos = skip_whitespace(value, pos + 2)
                continue
            word, pos = extract_word(value, pos, cunescape=True, strict_end=True, fatal=fatal)
            if word is None:
                break
            argv.append(resolve_specifiers(word, value, fatal=fatal))
        if "@" in prefixes and len(argv) < 2:
            raise UnitSyntaxError(
                f"invalid command line {value!r}: the '@' prefix needs a word for argv[0] after "
                "the executable. Add that word or drop the '@'",
                value=value,
                fatal=fatal,
            )
        commands.append(Command(prefixes, tuple(argv)))
        if not more:
            break
    return commands


def split_variable_value(value: str) -> list[str]:
    """Split a variable's value the way systemd does for a whole-word ``$NAME``.

    Whitespace separates words. Single and double quotes group text and are
    removed, and a backslash takes the next character literally (there are no
    C escapes). An unterminated quote runs to the end of the value, and a
    trailing backslash is dropped.
    """
    return split_value_words(value)


def expand_variables(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Substitute variables in ``argv`` the way systemd does when it starts the command.

    A word that starts with ``$`` but not with ``${`` or ``$$`` is a whole-word
    reference. The rest of the word is the name, and the word becomes the value
    split by ``split_variable_value``, or no word at all when the name is unset.
    So ``$X/bin`` vanishes, because the name ``X/bin`` is never set. In any
    other word, ``${NAME}`` becomes the exact value (empty when unset), ``$$``
    becomes ``$``, and a bare ``$NAME`` inside the word stays as written.
    Every given word is substituted. Pass ``argv[1:]`` to leave the executable
    alone, and skip the call for a command with the ``:`` prefix.
    """
    result: list[str] = []
    for word in argv:
        if word.startswith("$") and word[1:2] not in ("{", "$"):
            value = env.get(word[1:])
            if value is not None:
                result.extend(split_variable_value(value))
            continue
        result.append(_replace_braced(word, env))
    return result


def format_command_line(command: Command) -> str:
    """Write ``command`` as an ``Exec*=`` value that ``parse_command_line`` reads back unchanged.

    Words that need it are double-quoted with C escapes. ``$VAR`` and
    ``${VAR}`` words stay bare, and systemd still substitutes them. ``%`` is
    written ``%%``. Raises ``InvalidInput`` for a command that no value can
    express, such as an executable that starts with a prefix character.
    """
    if not command.argv:
        raise InvalidInput("cannot write a command line without an executable", prefixes=command.prefixes)
    words = [command.prefixes + _quote(command.argv[0])]
    words.extend(_quote(word) for word in command.argv[1:])
    line = " ".join(words)
    try:
        reread = parse_command_line(line)
    except UnitSyntaxError as err:
        raise InvalidInput(
            f"cannot write {list(command.argv)!r} as a systemd command line: {err.message}",
            argv=list(command.argv),
        ) from err
    if reread != command:
        raise InvalidInput(
            f"cannot write {list(command.argv)!r} with prefixes {command.prefixes!r} as a systemd "
            f"command line: systemd would read {line!r} as {list(reread.argv)!r} with prefixes "
            f"{reread.prefixes!r}; use an executable path that starts with '/'",
            argv=list(command.argv),
        )
    return line


def _quote(word: str) -> str:
    # A bare variable reference shows the reader that systemd substitutes it.
    return word if _VARIABLE_WORD.fullmatch(word) else quote_word(word)


def _split_prefixes(word: str) -> tuple[str, str]:
    prefixes = ""
    for char in word:
        if not _accepts_prefix(prefixes, char):
            break
        prefixes += char
    return prefixes, word[len(prefixes) :]


def _accepts_prefix(prefixes: str, char: str) -> bool:
    if char == "!":
        return "+" not in prefixes and "!!" not in prefixes
    if char == "+":
        return "+" not in prefixes and "!" not in prefixes
    return char in PREFIX_CHARS and char not in prefixes


def _check_executable(path: str, prefixes: str, value: str, *, fatal: bool) -> None:
    """Raise ``UnitSyntaxError`` where systemd rejects the executable word."""
    problem = None
    if not path:
        problem = "there is no executable after the prefixes"
    elif any(char in "\"'\\\x7f" or is_control(char) for char in path):
        problem = f"the executable {path!r} contains quotes, backslashes or control characters"
    elif "%" in path:
        return  # a specifier such as %h may expand to an absolute path
    elif path.endswith("/"):
        problem = f"the executable {path!r} names a directory"
    elif not path.startswith("/") and ("/" in path or path in (".", "..")):
        problem = f"the executable {path!r} is neither an absolute path nor a plain file name"
    if problem:
        raise UnitSyntaxError(
            f"invalid command line {value!r}: {problem}. Start it with the absolute path of the "
            "program",
            value=value,
            prefixes=prefixes,
            fatal=fatal,
        )


def _replace_braced(word: str, env: Mapping[str, str]) -> str:
    """Substitute ``${NAME}`` and ``$$`` inside one word, as replace_env() does."""
    out = []
    index = 0
    while index < len(word):
        char = word[index]
        following = word[index + 1 : index + 2]
        if char != "$" or following not in ("$", "{"):
            # A "$" before any other character stays, and so does that character.
            out.append(word[index : index + 2] if char == "$" else char)
            index += 2 if char == "$" else 1
            continue
        if following == "$":
            out.append("$")
            index += 2
            continue
        end = index + 2
        while end < len(word) and word[end] not in "}:":
            end += 1
        if end < len(word) and word[end] == "}":
            out.append(env.get(word[index + 2 : end], ""))
            index = end + 1
            continue
        # Command lines do not support "${NAME:-default}", and an unclosed "${"
        # is no reference, so both stay as written.
        out.append(word[index : end + 1])
        index = end + 1
    return "".join(out)
