"""The daemon's command line: its form, and each argument with where it came from.

A unit's ExecStart, after systemd substitutes ``$VAR`` and ``${VAR}``, or an
init script's ``dockerd $DOCKER_OPTS``, becomes a list of ``Word``: the text
dockerd receives and the source that put it there. The host flags among
them, and their sources, follow from that list.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Command forms, by the words that start the daemon.
FORM_DOCKERD = "dockerd"
FORM_DOCKER_DAEMON = "docker daemon"
FORM_DOCKER_D = "docker -d"
FORM_ROOTLESS = "dockerd-rootless"
FORM_SHELL = "sh -c"
FORM_SNAP = "snap run"
FORM_UNKNOWN = "unknown"

_SHELLS = {"sh", "bash", "dash", "ash", "busybox"}
_WHOLE_VARIABLE = re.compile(r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))$")
BRACED_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Origin:
    """The source of an argument: a unit line, or a variable in a file."""

    kind: str  # "unit", "environment", "env-file", "shell-file"
    path: str | None
    line: int | None = None
    variable: str | None = None


@dataclass(frozen=True)
class Word:
    text: str
    origin: Origin


@dataclass(frozen=True)
class CommandForm:
    """The daemon's command form and the index of its first option."""

    form: str
    args_start: int


def classify_command(argv: Sequence[str]) -> CommandForm:
    """Tell the command form of a daemon command line.

    ``dockerd ...`` (also Red Hat's ``dockerd-current``), ``docker daemon ...``
    (1.8-1.11, also CoreOS's ``dockerd daemon``), ``docker -d ...`` or
    ``docker --daemon`` (before 1.8), ``dockerd-rootless.sh ...`` (passes its
    arguments to dockerd), ``sh -c '...'`` (Red Hat's forward-journald pipe) and
    ``snap run docker.dockerd`` (the docker snap).
    """
    if not argv:
        return CommandForm(FORM_UNKNOWN, 0)
    name = posixpath.basename(argv[0])
    if name in _SHELLS and len(argv) >= 3 and argv[1] == "-c":
        return CommandForm(FORM_SHELL, 2)
    if name.startswith("dockerd-rootless"):
        return CommandForm(FORM_ROOTLESS, 1)
    if name == "snap" and len(argv) >= 3 and argv[1] == "run" and argv[2].startswith("docker."):
        # snapd's unit for the docker snap: its wrapper passes no -H and reads the snap's daemon.json.
        return CommandForm(FORM_SNAP, len(argv))
    if name in ("docker", "docker.io", "docker-current", "dockerd", "dockerd-current") and len(argv) > 1:
        if argv[1] == "daemon":
            return CommandForm(FORM_DOCKER_DAEMON, 2)
        if name.startswith("docker") and not name.startswith("dockerd"):
            if argv[1] in ("-d", "--daemon", "--daemon=true"):
                return CommandForm(FORM_DOCKER_D, 2)
    if name in ("dockerd", "dockerd-current"):
        return CommandForm(FORM_DOCKERD, 1)
    return CommandForm(FORM_UNKNOWN, 1)


def shell_command_words(script: str) -> list[str]:
    """Return the words of the first simple command of an ``sh -c`` script.

    Parsing stops at the first control operator or redirection (``|``, ``;``,
    ``&&``, ``2>&1``): what follows does not reach dockerd. Quotes are removed
    as sh removes them; ``$VAR`` stays a word for the caller to expand.
    """
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    for token in lexer:
        if token and all(char in "();<>|&" for char in token):
            if words and words[-1].isdigit():
                words.pop()  # the "2" of "2>&1"
            break
        words.append(token)
    return words


def variable_name(word: str) -> str | None:
    """Return NAME when the whole word is ``$NAME`` or ``${NAME}``."""
    match = _WHOLE_VARIABLE.match(word)
    if not match:
        return None
    return match.group("braced") or match.group("bare")


def expand_systemd_words(
    argv: Sequence[str],
    origin: Origin,
    values: Mapping[str, str],
    origins: Mapping[str, Origin],
) -> list[Word]:
    """Substitute variables in ExecStart words as systemd does, keeping origins.

    A word that is exactly ``$NAME`` becomes the value's words; a ``${NAME}``
    inside a word is replaced in place. Each resulting word is attributed to
    the variable's source when one variable produced it, else to ``origin``.
    """
    from dhconf.sources.execstart import expand_variables

    words: list[Word] = []
    for word in argv:
        expanded = expand_variables([word], values)
        name = variable_name(word)
        if name is None:
            braced = BRACED_VARIABLE.findall(word)
            name = braced[0] if len(braced) == 1 else None
        source = origins.get(name, origin) if name else origin
        words.extend(Word(text, source) for text in expanded)
    return words


def expand_shell_words(
    argv: Sequence[str],
    origin: Origin,
    values: Mapping[str, str],
    origins: Mapping[str, Origin],
) -> list[Word]:
    """Substitute unquoted ``$NAME`` words as /bin/sh does: split at IFS, quotes kept literally."""
    from dhconf.sources.shellvars import split_shell_words

    words: list[Word] = []
    for word in argv:
        name = variable_name(word)
        if name is None:
            words.append(Word(word, origin))
            continue
        source = origins.get(name, origin)
        words.extend(Word(text, source) for text in split_shell_words(values.get(name, "")))
    return words
