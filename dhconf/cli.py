"""The dhconf command line: options, human and JSON output, exit codes.

Only this module imports typer. Commands are thin: they call the library and
print its result. A library error becomes one line on stderr, plus one JSON
document on stdout with --json, and the exit code of its class. A traceback
appears only with --debug.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, List, Optional

import typer

from dhconf import __version__
from dhconf.errors import EXIT_FAILED, DhconfError, InvalidInput

log = logging.getLogger("dhconf")

app = typer.Typer(
    name="dhconf",
    help="Manage where the Docker daemon listens: its -H/--host bindings.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich panels label every flag "<bool>", as if it took a value.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Options:
    root: str = "/"
    scope: str = "system"
    unit: Optional[str] = None
    json: bool = False
    debug: bool = False


# The global options, for the error handler in main() that runs outside typer's context.
OPTIONS = Options()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dhconf {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    root: str = typer.Option(
        "/", "--root", metavar="DIR", help="Read and write the host tree mounted at DIR; nothing is restarted unless DIR is /."
    ),
    scope: str = typer.Option(
        "system", "--scope", metavar="system|user", help="Manage the system daemon, or the per-user (rootless) daemon through the user's systemd manager."
    ),
    unit: Optional[str] = typer.Option(
        None, "--unit", metavar="NAME", help="The daemon's service name (default: docker, or docker.io where only that exists)."
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print exactly one JSON document on stdout; logs go to stderr."
    ),
    debug: bool = typer.Option(False, "--debug", help="Log each step to stderr and show tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if scope not in ("system", "user"):
        raise InvalidInput(f"invalid --scope {scope!r}: use 'system' or 'user'")
    if not os.path.isdir(root):
        raise InvalidInput(f"invalid --root {root!r}: no such directory; give the directory a host tree is mounted at")
    OPTIONS.root, OPTIONS.scope, OPTIONS.unit = root, scope, unit
    OPTIONS.json, OPTIONS.debug = json_output, debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="dhconf: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )


def _detect() -> Any:
    from dhconf.detect import detect
    from dhconf.rootfs import RootFS

    return detect(RootFS(OPTIONS.root), scope=OPTIONS.scope, unit=OPTIONS.unit)


def _print_json(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, indent=2, sort_keys=False))


@app.command()
def detect(
    json_output: bool = typer.Option(False, "--json", help="Same as the global --json."),
) -> None:
    """Show the platform, every source of bindings, the effective hosts and findings."""
    from dhconf import report

    _json_after_command(json_output)
    detection = _detect()
    if OPTIONS.json:
        _print_json(detection.to_json())
    else:
        typer.echo(report.format_detection(detection))


@app.command()
def show(
    probe: bool = typer.Option(False, "--probe", help="Also call GET /_ping and GET /info on each host; exit 1 when one fails."),
    timeout: Optional[float] = typer.Option(None, "--timeout", metavar="SECONDS", min=0.1, help="How long --probe waits for each host, in seconds (default: 30, plus dockerd's start-up delay for plain TCP)."),
    json_output: bool = typer.Option(False, "--json", help="Same as the global --json."),
) -> None:
    """Print the effective hosts, one per line; error findings go to stderr."""
    _json_after_command(json_output)
    detection = _detect()
    document: dict[str, Any] = {
        "hosts": [str(host) for host in detection.hosts],
        "sources": [source.to_json() for source in detection.sources],
    }
    if probe:
        _require_live_root("--probe")
        document["probe"] = _probe_effective(detection, timeout)
    if OPTIONS.json:
        _print_json(document)
    else:
        for host in document["hosts"]:
            typer.echo(host)
        for result in document.get("probe", []):
            status = "ok" if result["ok"] else f"failed: {result['error']}"
            typer.echo(f"{result['host']}: {status}", err=not result["ok"])
        for finding in detection.findings:
            if finding.severity == "error":
                typer.echo(f"dhconf: error: [{finding.code}] {finding.message}", err=True)
    if not all(result["ok"] for result in document.get("probe", [])):
        raise typer.Exit(code=EXIT_FAILED)


def _json_after_command(json_output: bool) -> None:
    """Honour --json given after the command name as well as before it."""
    if json_output:
        OPTIONS.json = True


def _require_live_root(what: str) -> None:
    """Refuse to contact a daemon for a --root tree: the sockets it names are this machine's."""
    if os.path.abspath(OPTIONS.root) != "/":
        raise InvalidInput(
            f"{what} talks to the daemon running on this machine, but --root {OPTIONS.root} is a "
            "host tree; probe on the host itself, or give -H with an address that reaches it"
        )


def _probe_effective(detection: Any, timeout: Optional[float]) -> list[dict[str, Any]]:
    from dhconf.probe import default_deadline, probe_hosts
    from dhconf.restart import fd_socket_path

    deadline = timeout or default_deadline(detection.hosts, None)
    results = probe_hosts(detection.hosts, fd_socket=fd_socket_path(detection), deadline=deadline, on_wait=_notify)
    return [result.to_json() for result in results]


# Options shared by set, add, remove and rollback. typer 0.7 (Debian 12) has no
# Annotated parameters, so each option is one OptionInfo reused as a default.
HOSTS = typer.Option(None, "-H", "--host", metavar="HOST", help="A binding such as unix:///var/run/docker.sock, tcp://127.0.0.1:2376 or fd://; repeat for several.")
DRY_RUN = typer.Option(False, "--dry-run", "--check", help="Write nothing; report whether anything would change.")
DIFF = typer.Option(False, "--diff", help="Print a unified diff of each file change.")
VIA = typer.Option("auto", "--via", metavar="auto|env-file|dropin|unit|daemon-json", help="Where to write the bindings; auto picks the place that takes effect.")
NO_RESTART = typer.Option(False, "--no-restart", help="Write the files but do not restart the daemon.")
NO_VERIFY = typer.Option(False, "--no-verify", help="Restart but do not probe the bindings afterwards.")
TIMEOUT = typer.Option(None, "--timeout", metavar="SECONDS", min=0.1, help="Deadline for the restart and for the verification of the bindings, in seconds (default: 90 for the restart; 30 for verifying, plus dockerd's start-up delay for plain TCP).")
TLSVERIFY = typer.Option(False, "--tlsverify", help="Make dockerd require TLS client certificates (needs the three files below).")
TLSCACERT = typer.Option(None, "--tlscacert", metavar="PATH", help="CA certificate that dockerd trusts for clients; also verifies the daemon when probing.")
TLSCERT = typer.Option(None, "--tlscert", metavar="PATH", help="dockerd's server certificate.")
TLSKEY = typer.Option(None, "--tlskey", metavar="PATH", help="dockerd's server key; it must already be readable by its owner only (chmod 600).")
CLIENT_CERT = typer.Option(None, "--client-cert", metavar="PATH", help="Client certificate for probing TLS bindings.")
CLIENT_KEY = typer.Option(None, "--client-key", metavar="PATH", help="Client key for probing TLS bindings.")
ALLOW_INSECURE = typer.Option(False, "--allow-insecure-tcp", help="Allow plain TCP without TLS on a non-loopback address.")
JSON_AFTER = typer.Option(False, "--json", help="Same as the global --json.")
DETAILED_EXITCODE = typer.Option(False, "--detailed-exitcode", help="Exit with 5 when something changed or would change, 0 when nothing did.")


def _probe_tls(cacert: Optional[str], cert: Optional[str], key: Optional[str]) -> Any:
    if not (cacert or cert or key):
        return None
    from dhconf.probe import TlsFiles

    return TlsFiles(cacert=cacert or "", cert=cert or "", key=key or "")


def _run_change(mode: str, hosts: Optional[List[str]], **options: Any) -> None:
    from dhconf.errors import EXIT_CHANGED
    from dhconf.operations import change_hosts

    _json_after_command(options.pop("json_output"))
    diff = options.pop("diff")
    detailed = options.pop("detailed_exitcode")
    options["probe_tls"] = _probe_tls(options["tlscacert"], options.pop("client_cert"), options.pop("client_key"))
    outcome = change_hosts(
        mode=mode,
        hosts=hosts or [],
        root=OPTIONS.root,
        scope=OPTIONS.scope,
        unit=OPTIONS.unit,
        notify=_notify,
        on_plan=_print_diffs if diff else None,
        **options,
    )
    _show_outcome(outcome.to_json())
    if detailed and outcome.changed:
        raise typer.Exit(code=EXIT_CHANGED)


def _notify(message: str) -> None:
    typer.echo(f"dhconf: {message}", err=True)


def _print_diffs(files: List[dict]) -> None:
    for planned in files:
        if planned.get("diff"):
            typer.echo(planned["diff"], nl=False, err=OPTIONS.json)


def _show_outcome(document: dict) -> None:
    from dhconf import report

    if OPTIONS.json:
        _print_json(document)
    else:
        typer.echo(report.format_outcome(document))


def _change_command(mode: str, summary: str) -> Any:
    """Build the set, add or remove command: the same options, another mode."""

    def command(
        hosts: Optional[List[str]] = HOSTS, dry_run: bool = DRY_RUN, diff: bool = DIFF, via: str = VIA,
        no_restart: bool = NO_RESTART, no_verify: bool = NO_VERIFY, timeout: Optional[float] = TIMEOUT,
        tlsverify: bool = TLSVERIFY, tlscacert: Optional[str] = TLSCACERT, tlscert: Optional[str] = TLSCERT,
        tlskey: Optional[str] = TLSKEY, client_cert: Optional[str] = CLIENT_CERT,
        client_key: Optional[str] = CLIENT_KEY, allow_insecure_tcp: bool = ALLOW_INSECURE,
        detailed_exitcode: bool = DETAILED_EXITCODE, json_output: bool = JSON_AFTER,
    ) -> None:
        _run_change(mode, hosts, dry_run=dry_run, diff=diff, via=via, restart=not no_restart,
                    verify=not no_verify, timeout=timeout, tlsverify=tlsverify, tlscacert=tlscacert,
                    tlscert=tlscert, tlskey=tlskey, client_cert=client_cert, client_key=client_key,
                    allow_insecure_tcp=allow_insecure_tcp, detailed_exitcode=detailed_exitcode,
                    json_output=json_output)

    command.__doc__ = summary
    command.__name__ = f"{mode}_hosts"
    return command


app.command("set")(_change_command("set", "Replace the whole set of hosts with the -H values given."))
app.command("add")(_change_command("add", "Add the -H values to the current hosts."))
app.command("remove")(_change_command("remove", "Remove the -H values from the current hosts."))


@app.command("rollback")
def rollback(
    dry_run: bool = DRY_RUN, no_restart: bool = NO_RESTART, no_verify: bool = NO_VERIFY,
    timeout: Optional[float] = TIMEOUT,
    tlscacert: Optional[str] = typer.Option(None, "--tlscacert", metavar="PATH", help="CA certificate to verify TLS bindings with."),
    client_cert: Optional[str] = CLIENT_CERT, client_key: Optional[str] = CLIENT_KEY,
    json_output: bool = JSON_AFTER,
) -> None:
    """Restore the files of the last transaction, restart and verify; each run steps back one more."""
    from dhconf.operations import rollback_last

    _json_after_command(json_output)
    outcome = rollback_last(root=OPTIONS.root, scope=OPTIONS.scope, unit=OPTIONS.unit, dry_run=dry_run,
                            restart=not no_restart, verify=not no_verify, timeout=timeout,
                            probe_tls=_probe_tls(tlscacert, client_cert, client_key), notify=_notify)
    _show_outcome(outcome.to_json())


@app.command("probe")
def probe(
    hosts: Optional[List[str]] = HOSTS,
    timeout: Optional[float] = typer.Option(None, "--timeout", metavar="SECONDS", min=0.1, help="How long to wait for each host to respond, in seconds (default: 30, plus dockerd's start-up delay for plain TCP)."),
    json_output: bool = JSON_AFTER,
    tlscacert: Optional[str] = typer.Option(None, "--tlscacert", metavar="PATH", help="CA certificate to verify the daemon with."),
    tlscert: Optional[str] = typer.Option(None, "--tlscert", metavar="PATH", help="Client certificate for TLS bindings."),
    tlskey: Optional[str] = typer.Option(None, "--tlskey", metavar="PATH", help="Client key for TLS bindings."),
) -> None:
    """Call GET /_ping and GET /info on each host (default: the effective hosts)."""
    from dhconf.errors import EXIT_FAILED as failed_code
    from dhconf.hosts import parse_host
    from dhconf.probe import default_deadline, probe_hosts
    from dhconf.restart import fd_socket_path

    _json_after_command(json_output)
    tls = _probe_tls(tlscacert, tlscert, tlskey)
    detection = _detect()
    if not hosts:
        _require_live_root("probe without -H")
    targets = [parse_host(text) for text in hosts] if hosts else detection.hosts
    deadline = timeout or default_deadline(targets, tls)
    results = probe_hosts(targets, tls=tls, deadline=deadline, fd_socket=fd_socket_path(detection), on_wait=_notify)
    documents = [result.to_json() for result in results]
    if OPTIONS.json:
        _print_json({"verify": documents})
    else:
        from dhconf import report

        typer.echo(report.format_probes(documents))
    if not all(result.ok for result in results):
        raise typer.Exit(code=failed_code)


def main(argv: Optional[List[str]] = None) -> None:
    """Run the CLI; translate dhconf errors into one message and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, prog_name="dhconf", standalone_mode=False)
    except DhconfError as err:
        _fail(err.message, err.to_json(), err.exit_code, err)
    except KeyboardInterrupt:
        _fail("interrupted", {"code": "interrupted", "message": "interrupted"}, EXIT_FAILED, None)
    except Exception as err:  # noqa: BLE001 - usage errors come from click, or typer's copy of it
        if type(err).__name__ == "Abort":
            _fail("interrupted", {"code": "interrupted", "message": "interrupted"}, EXIT_FAILED, None)
        if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
            _internal_error(err)
        if "--json" in args:
            OPTIONS.json = True
        err.show()  # click's own usage text on stderr
        if OPTIONS.json:
            typer.echo(json.dumps({"error": {"code": "usage", "message": err.format_message()}}, indent=2))
        sys.exit(err.exit_code)
    sys.exit(result if isinstance(result, int) else 0)


def _internal_error(err: BaseException) -> None:
    message = f"internal error: {type(err).__name__}: {err}; run again with --debug for the traceback"
    _fail(message, {"code": "internal_error", "message": message}, EXIT_FAILED, err)


def _fail(message: str, document: dict[str, Any], exit_code: int, err: BaseException | None) -> None:
    if OPTIONS.debug and err is not None:
        log.exception("%s", message)
    if OPTIONS.json:
        typer.echo(json.dumps({"error": document}, indent=2))
    typer.echo(f"dhconf: error: {message}", err=True)
    sys.exit(exit_code)

