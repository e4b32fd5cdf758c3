"""``yidi spec``: the command-line face of the specification. ``diff`` is made by ``diff_command`` and
mounted by the yidi command, which lends it the catalogue."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from . import examples, loader
from .compiler import schema
from .console import console as rich_console
from .diff import Diff
from .diff import diff as spec_diff
from .lifecycle import allowed
from .model import Node, Spec
from .openapi import document, node_server
from .validate import validate as validate_message

app = typer.Typer(
    help="The interface specification: list, show, validate, export, diff.", no_args_is_help=True
)
out = rich_console()
err = rich_console(stderr=True)

SpecRef = Annotated[
    str | None, typer.Option("--spec", "-s", help="Version and profile, e.g. V1.1 or V1.0+guangzhou.")
]
Profile = Annotated[
    str | None, typer.Option("--profile", "-p", help="Regional profile (or an overlay file).")
]
SpecDir = Annotated[
    Path | None, typer.Option("--spec-dir", help="A spec folder of your own, shaped like yidi's.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _spec(ref: str | None, profile: str | None = None, root: Path | None = None) -> Spec:
    try:
        return loader.load(ref, profile=profile, root=root)
    except loader.SpecError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None


def _known(s: Spec, infno: str) -> str:
    """The infno if the spec has it; otherwise one line naming the spec, and exit 2."""
    if infno not in s.transactions:
        err.print(f"[red]no transaction {infno} in spec {s.ref} (yidi spec list shows them)[/red]")
        raise typer.Exit(2)
    return infno


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command("list")
def list_(
    spec: SpecRef = None,
    profile: Profile = None,
    spec_dir: SpecDir = None,
    role: Annotated[str | None, typer.Option(help="Only transactions this role receives.")] = None,
    as_json: AsJson = False,
) -> None:
    """One line per transaction: infno, name, sender → receiver."""
    s = _spec(spec, profile, spec_dir)
    if role is not None and role not in s.roles:
        err.print(f"[red]no role {role} in spec {s.ref}: one of {', '.join(s.roles)}[/red]")
        raise typer.Exit(2)
    txns = [t for t in s.transactions.values() if role in (None, t.receiver)]
    if as_json:
        _print_json(
            [
                {
                    "infno": t.infno,
                    "zh": t.zh,
                    "en": t.en,
                    "route": list(t.route),
                    "reversible": t.reversible,
                    "yidi": t.yidi,
                }
                for t in txns
            ]
        )
        return
    table = Table(title=f"{s.zh} · {s.ref}", title_justify="left")
    for column in ("infno", "交易名称", "name", "route 收发方", ""):
        table.add_column(column, no_wrap=column != "name")
    for t in txns:
        marks = " ".join(filter(None, ["可冲正" if t.reversible else "", "[yidi]" if t.yidi else ""]))
        table.add_row(t.infno, t.zh, t.en, " → ".join(t.route), marks)
    out.print(table)


def _node_table(s: Spec, direction: str, node: Node) -> Table:
    title = (
        f"{direction}.{node.label}"
        + (" （可选）" if node.optional else "")
        + (" （平铺）" if node.flat else "")
    )
    table = Table(title=title, title_justify="left")
    for column in ("field", "中文名", "类型", "必填", "代码表", "说明"):
        table.add_column(column, no_wrap=column in ("field", "中文名", "类型"), overflow="fold")
    for f in node.fields.values():
        required = "Y" if f.required else (f"{f.when_text}时" if f.required_when else "")
        code = f"{f.code} {s.codes[f.code].zh}" if f.code else (s.formats[f.format].zh if f.format else "")
        table.add_row(f.name, f.zh, f.form.zh, required, code, f.note)
    return table


@app.command()
def show(infno: str, spec: SpecRef = None, profile: Profile = None, spec_dir: SpecDir = None) -> None:
    """A transaction's nodes and fields, as a readable table."""
    s = _spec(spec, profile, spec_dir)
    t = s.transactions[_known(s, infno)]
    out.print(
        f"[bold]{t.infno} {t.zh}[/bold] — {t.en}" + ("  [yellow][yidi-defined][/yellow]" if t.yidi else "")
    )
    out.print(f"收发方 route: {' → '.join(f'{s.roles[r].zh}({r})' for r in t.route)}")
    if t.service_path:
        out.print(f"服务路径 service path: {t.service_path}")
    out.print(f"可冲正 reversible by 2601: {'是 yes' if t.reversible else '否 no'}")
    machine = s.machine_for(infno)
    if machine:
        starts = sorted(
            {st for tr in machine.transitions if tr.infno == infno for st in tr.from_states}
            or {st for st in machine.states if infno in allowed(machine, st)}
        )
        out.print(f"就诊状态 life-cycle ({machine.zh}): from {', '.join(starts) or '(undo)'}")
    if t.note:
        out.print(f"说明: {t.note}")
    for direction in ("input", "output"):
        for node in t.nodes(direction).values():
            out.print(_node_table(s, direction, node))
        if not t.nodes(direction):
            out.print(f"{direction}: （无字段）")
    if t.errors:
        out.print("业务错误 errors: " + "; ".join(f"{e} {s.errors[e].zh}" for e in t.errors))
    if t.rules:
        out.print("规则 rules: " + "; ".join(f"{r} {s.rules[r].zh}" for r in t.rules))
    if t.source:
        out.print(f"[dim]来源 source: {t.source}[/dim]")


@app.command()
def validate(
    file: Annotated[str, typer.Argument(help="A JSON message, or - for standard input.")],
    infno: Annotated[
        str | None, typer.Option(help="Transaction (read from a request's envelope when absent).")
    ] = None,
    response: Annotated[
        bool, typer.Option("--response", help="Validate a response (needs --infno).")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Report fields beyond the spec and unknown open codes.")
    ] = False,
    cross_province: Annotated[
        bool, typer.Option("--cross-province", help="The message is a cross-province visit.")
    ] = False,
    spec: SpecRef = None,
    profile: Profile = None,
    spec_dir: SpecDir = None,
    as_json: AsJson = False,
) -> None:
    """Validate one message. Exit 0 valid, 1 invalid, 2 unusable input; one line per problem."""
    s = _spec(spec, profile, spec_dir)
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        message = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        err.print(f"[red]cannot read a JSON message from {file}: {e}[/red]")
        raise typer.Exit(2) from None
    if response and not infno:
        err.print("[red]a response does not carry its infno: give --infno[/red]")
        raise typer.Exit(2)
    target = infno or (message.get("infno") if isinstance(message, dict) else None)
    if not target or str(target) not in s.transactions:
        err.print(f"[red]unknown transaction {target or '(no infno)'} in spec {s.ref}; give --infno[/red]")
        raise typer.Exit(2)
    report = validate_message(
        s,
        message,
        infno=str(target),
        response=response,
        strict=strict,
        context={"cross_province": cross_province},
    )
    if as_json:
        _print_json(
            {
                "infno": report.infno,
                "response": response,
                "spec": s.ref,
                "valid": report.valid,
                "issues": [asdict(i) | {"err_msg": i.err_msg} for i in report.issues],
            }
        )
    else:
        for i in report.issues:
            colour = "red" if i.severity == "error" else "yellow"
            severity = f"[{colour}]{i.severity.upper():7}[/{colour}]"
            out.print(f"{severity} {i.code} {i.path or '$'}  {i.zh}  [dim]({i.rule})[/dim]")
        what = f"{report.infno} {'response' if response else 'request'}"
        verdict = (
            "[green]valid[/green]" if report.valid else f"[red]invalid: {len(report.errors)} error(s)[/red]"
        )
        err.print(
            f"{what} against {s.ref}: {verdict}"
            + (f", {len(report.warnings)} warning(s)" if report.warnings else "")
        )
    raise typer.Exit(0 if report.valid else 1)


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to a file instead of stdout.")
    ] = None,
    server: Annotated[
        str, typer.Option(help="Gateway base URL the paths are appended to.")
    ] = "http://127.0.0.1:8000",
    addressing: Annotated[str, typer.Option(help="infno, service (the /fsi/api/… paths) or both.")] = "infno",
    node: Annotated[
        str | None,
        typer.Option(
            help="One node of yidi serve: gw/510000, hub or prov/510000; its operations only, its URL under"
            " --server (for Schemathesis' CLI: README)."
        ),
    ] = None,
    spec: SpecRef = None,
    profile: Profile = None,
    spec_dir: SpecDir = None,
) -> None:
    """An OpenAPI 3.1 document of the hospital-facing and hub-facing interfaces."""
    if addressing not in ("infno", "service", "both"):
        err.print("[red]--addressing takes infno, service or both[/red]")
        raise typer.Exit(2)
    receiver = None
    if node is not None:
        try:
            server, receiver = node_server(server, node)
        except ValueError as e:
            err.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
    text = json.dumps(
        document(_spec(spec, profile, spec_dir), server=server, addressing=addressing, receiver=receiver),
        ensure_ascii=False,
        indent=2,
    )
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


CasesTouched = Callable[[Diff], Mapping[str, tuple[str, str]]]


def diff_command(cases_touched: CasesTouched) -> Callable[..., None]:
    """``yidi spec diff``; ``--cases`` asks ``cases_touched`` (the catalogue's, lent by the yidi command:
    the catalogue sits above the spec) which joint-test cases a change affects, as {id: (role, title)}."""

    def diff(
        old: str,
        new: str,
        spec_dir: SpecDir = None,
        as_json: AsJson = False,
        cases: Annotated[
            bool, typer.Option("--cases", help="Also list the joint-test cases the change affects.")
        ] = False,
    ) -> None:
        """Every change between two versions or profiles, breaking or compatible. Exit 1 if any breaks."""
        result = spec_diff(_spec(old, root=spec_dir), _spec(new, root=spec_dir))
        touched = cases_touched(result) if cases else {}
        if as_json:
            _print_json(
                {
                    "old": result.old,
                    "new": result.new,
                    "breaking": len(result.breaking),
                    "affected": sorted(result.affected),
                    "changes": [
                        asdict(c) | {"breaking": c.breaking, "zh": c.zh, "en": c.en} for c in result.changes
                    ],
                }
                | ({"cases": touched} if cases else {})
            )
        else:
            table = Table(title=f"{result.old} → {result.new}", title_justify="left")
            for column in ("", "change 变更", "where", "old", "new"):
                table.add_column(column, overflow="fold")
            for c in result.changes:
                mark = "[red]breaking[/red]" if c.breaking else "[green]compatible[/green]"
                table.add_row(mark, f"{c.zh} {c.en}", c.where, c.old, c.new)
            out.print(table)
            err.print(
                f"{len(result.changes)} change(s), {len(result.breaking)} breaking; "
                f"affected transactions: {', '.join(sorted(result.affected)) or 'none'}"
            )
            if cases:
                table = Table(
                    title="受影响的联调用例 affected cases (yidi certify --since)", title_justify="left"
                )
                for column in ("case", "role", "用例 title"):
                    table.add_column(column, overflow="fold")
                for case_id, (role, zh) in touched.items():
                    table.add_row(case_id, role, zh)
                out.print(table)
        raise typer.Exit(1 if result.breaking else 0)

    return diff


@app.command()
def example(
    infno: str,
    response: Annotated[bool, typer.Option("--response")] = False,
    minimal: Annotated[bool, typer.Option("--minimal", help="Required fields only.")] = False,
    spec: SpecRef = None,
    profile: Profile = None,
    spec_dir: SpecDir = None,
) -> None:
    """A valid sample message, derived from the spec."""
    s = _spec(spec, profile, spec_dir)
    build = examples.response if response else examples.request
    _print_json(build(s, _known(s, infno), full=not minimal))


@app.command("schema")
def schema_(
    infno: str,
    response: Annotated[bool, typer.Option("--response")] = False,
    strict: Annotated[bool, typer.Option("--strict")] = False,
    spec: SpecRef = None,
    profile: Profile = None,
    spec_dir: SpecDir = None,
) -> None:
    """The compiled JSON Schema (draft 2020-12) of a request or response."""
    s = _spec(spec, profile, spec_dir)
    _print_json(schema(s, _known(s, infno), response=response, strict=strict))


@app.command()
def check(spec_dir: SpecDir = None) -> None:
    """Load every version × profile, lint it, and validate every transaction's examples."""
    root = spec_dir or loader.data_dir()
    table = Table(title=f"spec self-check · {root}", title_justify="left")
    for column in ("spec", "status", "transactions", "code tables", "rules", "examples valid"):
        table.add_column(column, no_wrap=column == "spec")
    failed = False
    for version in loader.versions(root):
        for profile in loader.profiles(root):
            try:
                s = loader.load(version=version, profile=profile, root=root)
            except loader.SpecError as e:
                failed = True
                table.add_row(
                    f"{version}+{profile}", "[red]inconsistent[/red]", str(len(e.problems)), "", "", ""
                )
                continue
            bad = [
                f"{infno}{' response' if resp else ''}"
                for infno in s.transactions
                for resp in (False, True)
                if not validate_message(
                    s, (examples.response if resp else examples.request)(s, infno), infno=infno, response=resp
                ).valid
            ]
            failed |= bool(bad)
            table.add_row(
                s.ref,
                s.status,
                str(len(s.transactions)),
                str(len(s.codes)),
                str(sum(r.kind == "message" for r in s.rules.values())),
                "[green]all[/green]" if not bad else f"[red]{', '.join(bad[:5])}[/red]",
            )
    out.print(table)
    raise typer.Exit(1 if failed else 0)
