"""The ``yidi`` command. Each part of the architecture contributes its own sub-command."""

from __future__ import annotations

import typer

from yidi.specs.cli import app as spec_app

app = typer.Typer(
    name="yidi",
    help="Conformance and joint-testing harness for cross-province direct settlement (跨省异地就医直接结算).",
    no_args_is_help=True,
)
app.add_typer(spec_app, name="spec")


def main() -> None:
    app()
