"""The ``yidi`` command. Each part contributes its own commands; this is the one place that mounts them
and lends a part what a higher one has (the reports' writers, the catalogue), so that no part imports a
part above it."""

from __future__ import annotations

import os
import sys

import typer

from . import reports
from .actors.cli import his
from .load.cli import clear_command, load
from .reports import clearing, issuer
from .reports.cli import app as reports_app
from .simulators.cli import demo, mutants, serve
from .specs.cli import app as spec_app
from .specs.cli import diff_command
from .suites.catalogue import touched
from .suites.cli import certify_command
from .world.cli import roster_command

app = typer.Typer(
    name="yidi",
    help="Conformance and joint-testing harness for cross-province direct settlement (跨省异地就医直接结算).",
    no_args_is_help=True,
)
spec_app.command("diff")(diff_command(touched))
app.add_typer(spec_app, name="spec")
app.command("certify")(certify_command(reports.write, issuer.load))
app.command("load")(load)
app.command("clear")(clear_command(clearing.write))
app.add_typer(reports_app, name="report")
app.command("demo")(demo)
app.command("serve")(serve)
app.command("roster")(roster_command)
app.command("mutants")(mutants)
app.add_typer(his, name="his")


def main() -> None:
    try:
        app()
    except Exception as e:  # what no command foresaw: one line and exit 2, the traceback on request
        if os.environ.get("YIDI_TRACEBACK"):
            raise
        sys.stderr.write(f"yidi: {type(e).__name__}: {e} (YIDI_TRACEBACK=1 shows where)\n")
        raise SystemExit(2) from None
