"""``yidi report``: render a certification folder again, and check a certification document's seal.

yidi report DIR                  report.html from DIR/certification.json, DIR/allure-report from
                                 DIR/allure-results (with the Allure command line, when there is one)
yidi report verify FILE          一致 (consistent) or 不一致 (edited): exit 0 or 1
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from ..suites.document import contradictions
from . import HTML_NAME, JSON_NAME, allure, evidence, read, write_html

out = Console(highlight=False, soft_wrap=True)  # paths and digests are copied: never wrap them
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _RenderByDefault(TyperGroup):
    """``yidi report DIR`` is ``yidi report render DIR``: a word that names no sub-command is a folder."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click's Context: typer vendors it
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["render", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RenderByDefault,
    help="Certification reports: `yidi report DIR` renders a certify folder again; "
    "`yidi report verify FILE` checks a certification.json was not edited.",
    no_args_is_help=True,
)


@app.command()
def render(
    folder: Annotated[Path, typer.Argument(help="A `yidi certify --out` folder.")],
    use_allure: Annotated[
        bool, typer.Option("--allure/--no-allure", help="Also render DIR/allure-results with Allure.")
    ] = True,
) -> None:
    """report.html from certification.json, and the Allure report from allure-results."""
    if not folder.is_dir():
        err.print(f"[red]{folder}: no such folder[/red]")
        raise typer.Exit(2)
    document, results = folder / JSON_NAME, folder / "allure-results"
    if not document.is_file() and not results.is_dir():
        err.print(f"[red]{folder}: no {JSON_NAME}, no allure-results/: not a `yidi certify` folder[/red]")
        raise typer.Exit(2)
    ok = _html(document, folder / HTML_NAME) if document.is_file() else True
    if use_allure and results.is_dir():
        ok = _allure(results, folder / "allure-report") and ok
    raise typer.Exit(0 if ok else 1)


@app.command()
def verify(file: Annotated[Path, typer.Argument(help="A certification.json.")]) -> None:
    """Whether the document is as it was sealed: 一致 (exit 0) or 不一致 (exit 1)."""
    doc = _load(file)
    if doc is None:
        raise typer.Exit(2)
    sealed, computed = doc.get(evidence.KEY), evidence.digest(doc)
    if evidence.verify(doc):
        out.print(f"[green]一致[/green] consistent · SHA-256 {computed}")
        return
    if sealed is None:
        out.print(f"[red]不一致[/red] not sealed: no {evidence.KEY} in {file}")
    else:
        out.print(f"[red]不一致[/red] edited · sealed   {sealed}")
        out.print(f"                computed {computed}")
    raise typer.Exit(1)


def _html(document: Path, target: Path) -> bool:
    doc = _load(document)
    if doc is None:
        return False
    for problem in contradictions(doc):
        err.print(f"[yellow]{document}: {problem}[/yellow]")
    if not evidence.verify(doc):
        err.print(f"[yellow]{document}: 证据摘要不一致 — edited after the run; the report says so[/yellow]")
    write_html(doc, target)
    out.print(f"[green]✓[/green] {target}")
    return True


def _allure(results: Path, target: Path) -> bool:
    out.print("Allure: rendering allure-results (the first npx run fetches Allure 3, about 15 s)…")
    cli = allure.find()
    if cli is None:
        err.print("[yellow]Allure 命令行未找到 · no Allure command line (allure or npx) on PATH.[/yellow]")
        err.print(f"[yellow]{allure.HOW_TO_GET}[/yellow]")
        err.print("[yellow]Allure 报告未生成 not rendered; `--no-allure` skips it.[/yellow]")
        return False
    done = allure.generate(cli, results, target)
    if not done.ok:
        err.print(f"[red]Allure failed after {done.seconds:.1f} s: {' '.join(done.command)}[/red]")
        err.print(done.output)
        if "npx" in Path(cli.argv[0]).name:  # most likely no registry to fetch it from
            err.print(f"[yellow]{allure.HOW_TO_GET}[/yellow]")
        return False
    out.print(f"[green]✓[/green] {target / 'index.html'} (Allure {cli.major}, {done.seconds:.1f} s)")
    return True


def _load(file: Path) -> dict[str, Any] | None:
    try:
        return read(file)
    except OSError as e:
        err.print(f"[red]{file}: {e.strerror}[/red]")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        err.print(f"[red]{file}: not a JSON document ({e})[/red]")
    return None
