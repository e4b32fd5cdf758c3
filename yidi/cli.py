"""The ``yidi`` command. Each part of the architecture contributes its own sub-command."""

from __future__ import annotations

import typer

from yidi.load.cli import load
from yidi.reports.cli import app as reports_app
from yidi.simulators import cli as simulators
from yidi.specs.cli import app as spec_app
from yidi.suites.cli import certify

app = typer.Typer(
    name="yidi",
    help="Conformance and joint-testing harness for cross-province direct settlement (跨省异地就医直接结算).",
    no_args_is_help=True,
)
app.add_typer(spec_app, name="spec")
app.command("certify")(certify)
app.command("load")(load)
app.add_typer(reports_app, name="report")
app.command("demo")(simulators.demo)
app.command("serve")(simulators.serve)
app.command("roster")(simulators.roster_command)
app.command("mutants")(simulators.mutants)
app.command("clear")(simulators.clear)
app.add_typer(simulators.his, name="his")


def main() -> None:
    app()
