#!/usr/bin/env python3
"""Write dhconf(1) in roff from the CLI's own command tree.

Every command and option comes from ``typer.main.get_command(dhconf.cli.app)``
with its help text, and the exit codes from ``dhconf.errors.EXIT_CODES``, so
the page matches ``--help``. The examples are checked against the same
tree: an example that names an option the CLI does not have stops the build.

Usage: ``python3 tools/gen_manpage.py [--output FILE]`` from the source tree
(it puts the tree first on ``sys.path``), or with dhconf installed.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

SOURCE_TREE = Path(__file__).resolve().parent.parent

SEE_ALSO = ("dockerd(8)", "systemctl(1)", "systemd.unit(5)", "systemd.exec(5)")


@dataclass(frozen=True)
class Example:
    description: str
    argv: tuple[str, ...]


EXAMPLES = (
    Example("Show where the bindings come from, the effective hosts and any findings:", ("detect",)),
    Example(
        "Preview, as a diff, replacing the bindings with the default socket and TLS-less TCP on loopback:",
        ("set", "-H", "unix:///var/run/docker.sock", "-H", "tcp://127.0.0.1:2375", "--dry-run", "--diff"),
    ),
    Example(
        "Add a TLS binding on every address; dockerd will require client certificates:",
        ("add", "-H", "tcp://0.0.0.0:2376", "--tlsverify", "--tlscacert", "/etc/docker/ca.pem",
         "--tlscert", "/etc/docker/server.pem", "--tlskey", "/etc/docker/server-key.pem",
         "--client-cert", "/root/.docker/cert.pem", "--client-key", "/root/.docker/key.pem"),
    ),
    Example("Remove the TCP binding and print the result as one JSON document:",
            ("--json", "remove", "-H", "tcp://127.0.0.1:2375")),
    Example("Check mode for a provisioning run: exit 5 when something would change, 0 when nothing would:",
            ("set", "-H", "fd://", "--check", "--detailed-exitcode")),
    Example("Change a host tree mounted at /mnt (an image or a chroot); nothing is restarted:",
            ("--root", "/mnt", "set", "-H", "unix:///var/run/docker.sock")),
    Example("Manage a rootless daemon through the user's systemd manager:",
            ("--scope", "user", "show", "--probe")),
    Example("Call GET /_ping and GET /info on each effective binding:", ("probe",)),
    Example("Undo the last change, restart and verify the old bindings:", ("rollback",)),
)


def files_section() -> list[tuple[str, str]]:
    """Return the files dhconf reads and writes, with the paths that the library defines as constants."""
    from dhconf.apply import LOCK_NAME
    from dhconf.journal import STATE_DIR, journals_directory
    from dhconf.platform import FAMILIES
    from dhconf.writers import DROPIN_NAME

    options_files = sorted({family.options_file for family in FAMILIES if family.options_file})
    return [
        (f"/etc/systemd/system/docker.service.d/{DROPIN_NAME}",
         "The drop-in that dhconf writes for a systemd unit whose ExecStart expands no options variable: "
         "it resets ExecStart= and repeats the installed command with the new -H flags."),
        ("/lib/systemd/system/docker.service, /etc/systemd/system/docker.service",
         "The unit, with its drop-ins and EnvironmentFile= lines, read to find the effective ExecStart."),
        ("/lib/systemd/system/docker.socket",
         "The socket unit whose ListenStream= addresses fd:// stands for."),
        (", ".join(options_files),
         "Options files that init scripts source and units load; dhconf rewrites the variable that takes effect."),
        ("/etc/docker/daemon.json", "Its \"hosts\" key, when the daemon gets its bindings there."),
        ("/etc/os-release", "The distribution, which selects the family of paths and variable names."),
        (f"{STATE_DIR}/{LOCK_NAME}", "The lock that one change at a time holds."),
        (journals_directory(), "One journal per change, with a backup of every file it touched; "
                               "dhconf rollback restores the newest."),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write dhconf(1) from the dhconf CLI.")
    parser.add_argument("--output", "-o", help="file to write (default: standard output)")
    options = parser.parse_args(argv)

    sys.path.insert(0, str(SOURCE_TREE))
    page = render_page()

    if options.output:
        Path(options.output).parent.mkdir(parents=True, exist_ok=True)
        Path(options.output).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


def render_page() -> str:
    import typer

    from dhconf import __version__
    from dhconf.cli import app
    from dhconf.errors import EXIT_CODES

    root = typer.main.get_command(app)
    for example in EXAMPLES:
        check_example(root, example.argv)

    lines = [
        f'.TH DHCONF 1 "{build_date()}" "dhconf {__version__}" "User Commands"',
        # Option names and URLs must not be split or stretched.
        ".nh",
        ".ad l",
        ".SH NAME",
        r"dhconf \- manage where the Docker daemon listens: its \-H/\-\-host bindings",
        ".SH SYNOPSIS",
        r".B dhconf",
        r"[\fIGLOBAL OPTIONS\fR] \fICOMMAND\fR [\fIOPTIONS\fR]",
        ".SH DESCRIPTION",
        *paragraphs(root.help or ""),
        ".PP",
        text("dhconf finds out how dockerd is started (a systemd unit with its drop-ins and environment files, "
             "/etc/default/docker, /etc/sysconfig/docker, /etc/conf.d/docker, daemon.json, docker.socket), "
             "writes the bindings where they take effect, restarts the daemon and calls GET /info on every "
             "binding. When that fails, it restores the old files and restarts again."),
        ".SH GLOBAL OPTIONS",
        *option_items(visible_params(root)),
        ".SH COMMANDS",
    ]
    root_context = root.context_class(root, info_name="dhconf", **root.context_settings)
    for name, command in visible_commands(root):
        lines += command_section(name, command, root_context)
    lines += exit_status_section(EXIT_CODES)
    lines += [".SH FILES"]
    for path, description in files_section():
        lines += [".TP", rf"\fI{escape(path)}\fR", text(description)]
    lines += [".SH ENVIRONMENT", ".TP", r"\fBXDG_CONFIG_HOME\fR",
              text("With --scope user, drop-ins go to $XDG_CONFIG_HOME/systemd/user (default: ~/.config).")]
    lines += examples_section()
    lines += [".SH SEE ALSO", ",\n".join(rf"\fB{escape(name)}\fR" for name in SEE_ALSO)]
    return "\n".join(lines) + "\n"


def build_date() -> str:
    # SOURCE_DATE_EPOCH (set by dpkg-buildpackage and rpmbuild) keeps the page reproducible.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now(
        datetime.timezone.utc)
    return when.strftime("%Y-%m-%d")


def visible_params(command: Any, parent: Any = None) -> list[Any]:
    """Return the command's options, including the help option that click adds only inside a context."""
    context = command.context_class(command, parent=parent, info_name=command.name, **command.context_settings)
    return [param for param in command.get_params(context) if not getattr(param, "hidden", False)]


def visible_commands(group: Any) -> list[tuple[str, Any]]:
    return [(name, command) for name, command in group.commands.items() if not getattr(command, "hidden", False)]


def command_section(name: str, command: Any, root_context: Any) -> list[str]:
    params = visible_params(command, root_context)
    synopsis = rf"\fBdhconf\fR [\fIGLOBAL OPTIONS\fR] \fB{escape(name)}\fR"
    if params:
        synopsis += r" [\fIOPTIONS\fR]"
    lines = [f'.SS "{escape(name)}"', synopsis, ".PP", *paragraphs(command.help or "")]
    if params:
        lines += [".PP", *option_items(params)]
    return lines


def option_items(params: Iterable[Any]) -> list[str]:
    lines: list[str] = []
    for param in params:
        lines += [".TP", option_term(param), text(option_help(param))]
    return lines


def option_term(param: Any) -> str:
    names = sorted([*param.opts, *param.secondary_opts], key=lambda name: name.startswith("--"))
    if param.param_type_name == "argument":
        return rf"\fI{escape(param.human_readable_name)}\fR"
    term = ", ".join(rf"\fB{escape(name)}\fR" for name in names)
    metavar = option_metavar(param)
    if metavar:
        term += rf" \fI{escape(metavar)}\fR"
    return term


def option_metavar(param: Any) -> str:
    if getattr(param, "is_flag", False):
        return ""
    if param.metavar:
        return param.metavar
    choices = getattr(param.type, "choices", None)
    if choices:
        return "|".join(str(choice) for choice in choices)
    return param.type.name.upper()


def option_help(param: Any) -> str:
    help_text = " ".join((getattr(param, "help", None) or "").split())
    if getattr(param, "multiple", False):
        help_text += " May be given more than once."
    default = param.default
    if not getattr(param, "is_flag", False) and default not in (None, (), [], ""):
        help_text += f" Default: {default}."
    return help_text.strip()


def exit_status_section(exit_codes: dict[int, str]) -> list[str]:
    lines = [".SH EXIT STATUS"]
    for code, meaning in sorted(exit_codes.items()):
        lines += [".TP", rf"\fB{code}\fR", text(meaning[:1].upper() + meaning[1:] + ".")]
    return lines


def examples_section() -> list[str]:
    lines = [".SH EXAMPLES"]
    for example in EXAMPLES:
        command = " ".join(["dhconf", *example.argv])
        lines += [".PP", text(example.description), ".PP", ".RS 4", ".nf", text(command), ".fi", ".RE"]
    return lines


def check_example(root: Any, argv: tuple[str, ...]) -> None:
    """Raise SystemExit when an example names a command or option that the CLI lacks."""
    command, command_name = root, "dhconf"
    expects_value = False
    for word in argv:
        if expects_value:
            expects_value = False
        elif word.startswith("-"):
            param = next((param for param in command.params if word in (*param.opts, *param.secondary_opts)), None)
            if param is None:
                raise SystemExit(f"gen_manpage: example {' '.join(argv)!r}: {command_name} has no option {word!r}; "
                                 "fix the example in tools/gen_manpage.py")
            expects_value = not getattr(param, "is_flag", False)
        elif command is root:
            if word not in root.commands:
                raise SystemExit(f"gen_manpage: example {' '.join(argv)!r}: no command {word!r}; "
                                 "fix the example in tools/gen_manpage.py")
            command, command_name = root.commands[word], f"dhconf {word}"


def paragraphs(help_text: str) -> list[str]:
    lines: list[str] = []
    for block in inspect.cleandoc(help_text).split("\n\n"):
        if block.strip():
            if lines:
                lines.append(".PP")
            lines.append(text(" ".join(block.split())))
    return lines


def text(value: str) -> str:
    """Escape one line of running text for roff."""
    escaped = escape(value)
    return "\\&" + escaped if escaped.startswith((".", "'")) else escaped


def escape(value: str) -> str:
    return value.replace("\\", "\\e").replace("-", "\\-")


if __name__ == "__main__":
    sys.exit(main())
