"""``yidi report``: render a certification folder again, and check a certification document's signature.

yidi report DIR                  report.html from DIR/certification.json, DIR/allure-report from
                                 DIR/allure-results (with the Allure command line, when there is one)
yidi report verify FILE [--issuer-key PUB]
                                 一致 (signed by the issuer, unedited) or 不一致: exit 0 or 1
yidi report key                  the issuer's public key, to give those who check its certificates
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
from . import issuer as issuers

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
    "`yidi report verify FILE --issuer-key PUB` checks a certification.json is as its issuer signed it.",
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
def verify(
    file: Annotated[Path, typer.Argument(help="A certification.json.")],
    issuer_key: Annotated[
        Path | None,
        typer.Option(
            help="The issuer's public key (PEM, from `yidi report key`); default: this machine's issuer key."
        ),
    ] = None,
) -> None:
    """Whether the document is as its issuer signed it: 一致 (exit 0) or 不一致 (exit 1)."""
    doc = _load(file)
    if doc is None:
        raise typer.Exit(2)
    path = issuer_key or issuers.default_path()
    if issuer_key is None and not path.is_file():
        err.print(
            "[red]需要签发方公钥 the issuer's public key is needed:[/red] --issuer-key FILE "
            "(the issuer gives it: `yidi report key`)"
        )
        raise typer.Exit(2)
    try:
        trusted = issuers.trusted(path)
    except issuers.IssuerError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    found = evidence.check(doc, trusted)
    signer = f"{found.issuer or '?'} · key {found.key_id or '?'}"
    if found.state == "consistent":
        out.print(f"[green]一致[/green] consistent · signed by {signer}")
        return
    why = {
        "unsigned": f"not signed: no Ed25519 {evidence.KEY} in {file}",
        "other_issuer": f"signed by another key than the issuer's ({signer}; "
        f"the issuer's: {issuers.key_id(trusted)})",
        "edited": f"edited after it was signed ({signer})",
    }[found.state]
    out.print(f"[red]不一致[/red] {why}")
    raise typer.Exit(1)


@app.command()
def key(
    issuer_key: Annotated[
        Path | None,
        typer.Option(help="The issuer's private key file; default: this machine's (made if none)."),
    ] = None,
) -> None:
    """The issuer's public key (PEM) to give those who check its certificates, and its fingerprint."""
    try:
        issuer = issuers.load(issuer_key)
    except issuers.IssuerError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    out.print(issuers.public_pem(issuer.public), end="")
    err.print(f"key_id {issuers.key_id(issuer.public)} · private key {issuer.path} (keep it to yourself)")


def _html(document: Path, target: Path) -> bool:
    doc = _load(document)
    if doc is None:
        return False
    for problem in contradictions(doc):
        err.print(f"[yellow]{document}: {problem}[/yellow]")
    if not evidence.verify(doc):
        err.print(
            f"[yellow]{document}: 签名不一致 — not as its issuer signed it; the report says so[/yellow]"
        )
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
