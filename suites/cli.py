"""``yidi certify``: the catalogue against a system under test, with progress, a summary, the reports,
and an exit code a CI gate can use (0 only when every mandatory case passed)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..actors import admin
from ..actors.admin import AdminToken
from ..simulators.faults import MUTANTS
from ..specs.console import console as rich_console
from ..world import topology
from ..world.cli import WorldFile
from . import catalogue
from .certify import Listener, Outcome, Request, document, run, since
from .document import FLOW_ZH, OUTCOMES

console = rich_console()

MARK = {
    "passed": "[green]✓[/green]",
    "failed": "[red]✗[/red]",
    "error": "[red]![/red]",
    "skipped": "[dim]-[/dim]",
    "blocked": "[magenta]⊘[/magenta]",
    "not_applicable": "[yellow]○[/yellow]",
}
VERDICT = {
    "pass": "[bold green]通过 PASS[/bold green]",
    "fail": "[bold red]不通过 FAIL[/bold red]",
    "error": "[red]出错 ERROR[/red]",
}


WriteReports = Callable[[Mapping[str, Any], Path], dict[str, Path]]
# the reports' writer and issuer (what signs the certificate: opaque here, handed back to the writer)
WriteSigned = Callable[[Mapping[str, Any], Path, Any], dict[str, Path]]
LoadIssuer = Callable[[Path | None, str | None], Any]


def certify_command(write: WriteSigned, load_issuer: LoadIssuer) -> Callable[..., None]:
    """``yidi certify``, writing the reports with ``write``, signed by the issuer ``load_issuer`` gives
    (the reports part's, lent by the yidi command: the reports read what the suites produce and sit above
    them)."""

    def certify(
        role: Annotated[
            str, typer.Option("--role", "-r", help="The SUT's role: treatment, insured, hub, his, or all.")
        ] = "treatment",
        sut: Annotated[
            str,
            typer.Option(
                help="The SUT's base URL; builtin: yidi's own simulators; manual[:PORT]: a real HIS."
            ),
        ] = "builtin",
        spec: Annotated[
            str | None, typer.Option(help="Spec version (and profile), e.g. V1.1+guangzhou.")
        ] = None,
        profile: Annotated[str | None, typer.Option(help="Regional profile, e.g. guangzhou.")] = None,
        cases: Annotated[
            str | None,
            typer.Option(help="Only these: globs over case ID, flow, rule, infno (JT-SET-*,2304)."),
        ] = None,
        since_spec: Annotated[
            str | None,
            typer.Option(
                "--since", help="Re-certify after a spec change from this version: affected cases + smoke."
            ),
        ] = None,
        out: Annotated[Path, typer.Option(help="Where the reports go.")] = Path("yidi-report"),
        mutant: Annotated[
            list[str] | None,
            typer.Option(help="builtin only: make the simulators wrong on purpose (demonstration)."),
        ] = None,
        roster: Annotated[
            Path | None, typer.Option(help="The SUT's test persons, hospitals, credentials.")
        ] = None,
        world: WorldFile = None,
        his_wait: Annotated[
            float | None,
            typer.Option(help="his role: seconds to wait for each message (600 for a person, 30 builtin)."),
        ] = None,
        tester_events: Annotated[
            Path | None,
            typer.Option(help="his role: each case start, instruction and end as JSON lines (for a robot)."),
        ] = None,
        admin_token: AdminToken = None,
        sut_product: Annotated[
            str | None,
            typer.Option(help="The SUT's product, named on its certificate (default: what its roster says)."),
        ] = None,
        sut_version: Annotated[
            str | None,
            typer.Option(help="The SUT's version, named on its certificate (default: what its roster says)."),
        ] = None,
        issuer_key: Annotated[
            Path | None,
            typer.Option(
                help="The issuer's Ed25519 private key (PEM) that signs the certificate; "
                "default: $YIDI_ISSUER_KEY or ~/.config/yidi/issuer-ed25519.pem, made on first use."
            ),
        ] = None,
        issuer: Annotated[
            str | None, typer.Option(help="Who issues the certificate (default: $YIDI_ISSUER or user@host).")
        ] = None,
        public_url: Annotated[
            str | None,
            typer.Option(
                help="manual: the base URL the HIS should use (default: this host's name and port)."
            ),
        ] = None,
    ) -> None:
        """Certify a system: run the joint-test catalogue for its role and write the reports (认证测试)."""
        roles = [r for r in catalogue.ROLES if any(c.role == r for c in catalogue.load().values())]
        if role != "all" and role not in catalogue.ROLES:
            raise typer.BadParameter(
                f"{role!r} is not one of {', '.join(catalogue.ROLES)}, all", param_hint="--role"
            )
        unknown = set(mutant or ()) - set(MUTANTS)
        if unknown:
            raise typer.BadParameter(
                f"unknown {sorted(unknown)}; `yidi mutants` lists them", param_hint="--mutant"
            )
        problem = cannot_run(role, sut, mutant or [], roster, world, admin_token)
        declared = None if problem else system_of(sut, sut_product, sut_version, roster, admin_token)
        if not problem and declared is None:
            problem = (
                "认证须写明被测系统的产品与版本 a certificate names the system's product and version: "
                "--sut-product NAME --sut-version V"
            )
        signer: Any = None
        try:
            signer = None if problem else load_issuer(issuer_key, issuer)
        except ValueError as e:  # the key file unreadable: before the run, not after it
            problem = str(e)
        if (
            problem or signer is None
        ):  # before any case: a run that could not happen is not a failed certification
            console.print(f"[red]✗ 未能运行 could not run:[/red] {escape(problem or '')}", soft_wrap=True)
            raise typer.Exit(2)
        if role == "all" and by_url(sut):  # a platform by URL: the his role is a HIS's, not the platform's
            roles = [r for r in roles if r != "his"]
            console.print(
                "his角色不适用于URL所指的平台，已略过 the his role certifies a HIS, not a platform by URL"
            )
        console.print(f"签发方 issuer {escape(signer.name)} · key {signer.path}", soft_wrap=True)
        verdicts = {}
        for one in roles if role == "all" else [role]:
            where = out / one if role == "all" else out
            request = Request(
                one,
                sut,
                spec,
                profile,
                cases,
                list(mutant or ()),
                roster,
                where,
                world,
                his_wait,
                tester_events,
                admin_token,
                (declared or {}) if sut != "builtin" else builtin_system(one),
                public_url,
            )
            if since_spec:
                request.cases = since(since_spec, request)
                console.print(
                    f"自 {since_spec} 以来受影响的用例 cases affected since {since_spec}: {request.cases}"
                )
            verdicts[one] = _certify(request, lambda doc, where: write(doc, where, signer))
        if len(verdicts) > 1:
            console.print("  ".join(f"{r}: {VERDICT[v]}" for r, v in verdicts.items()))
        if "error" in verdicts.values():
            raise typer.Exit(2)
        raise typer.Exit(0 if set(verdicts.values()) == {"pass"} else 1)

    return certify


def by_url(sut: str) -> bool:
    """A system reached at a URL (a platform), rather than yidi's own (builtin) or a HIS a person drives."""
    return sut not in ("builtin", "manual") and not sut.startswith("manual:")


def builtin_system(role: str) -> dict[str, str]:
    """What yidi's own SUT is: its reference HIS (his role) or its simulators, at this yidi's version."""
    product = "yidi 参考HIS reference HIS" if role == "his" else "yidi 参考模拟器 reference simulators"
    return {"product": product, "version": version("yidi")}


def system_of(
    sut: str, product: str | None, version_: str | None, roster: Path | None, admin_token: str | None
) -> dict[str, str] | None:
    """The product and version a certificate names: as given, else as the SUT's roster says
    (``system``), else None (a SUT that is not yidi's must be named)."""
    if sut == "builtin" or (product and version_):
        return {"product": product or "", "version": version_ or ""}
    said: Any = None
    try:
        if roster is not None:
            said = json.loads(roster.read_text(encoding="utf-8")).get("system")
        elif by_url(sut):
            got = httpx.get(f"{sut.rstrip('/')}/admin/roster", timeout=10, headers=admin.headers(admin_token))
            said = got.raise_for_status().json().get("system")
    except (OSError, ValueError, AttributeError, httpx.HTTPError):
        said = None
    said = said if isinstance(said, dict) else {}
    found = {
        "product": product or str(said.get("product") or ""),
        "version": version_ or str(said.get("version") or ""),
    }
    return found if found["product"] and found["version"] else None


def cannot_run(
    role: str,
    sut: str,
    mutants: list[str],
    roster: Path | None,
    world: Path | None,
    admin_token: str | None = None,
) -> str | None:
    """Why a certification could not run at all, or None: a system by URL that does not answer, a roster
    or world file that cannot be read, an option that does not apply to the system given."""
    if role == "his" and by_url(sut):
        return (
            "his角色中yidi即医保平台：请用 --sut builtin（yidi参考HIS）或 manual（测试人员在HIS上操作）"
            ": a HIS is not reached by URL"
        )
    if mutants and sut != "builtin":
        return "--mutant 只适用于 --sut builtin（yidi自己的模拟器）: mutants make yidi's own simulators wrong"
    if roster is not None and not roster.is_file():
        return f"--roster {roster}: 没有此文件 no such file"
    if world is not None:
        try:
            topology.load(world)
        except (OSError, ValueError) as e:  # WorldError: one line naming the file, the place, the problem
            return str(e)
    if by_url(sut) and roster is None:
        try:
            r = httpx.get(f"{sut.rstrip('/')}/admin/roster", timeout=10, headers=admin.headers(admin_token))
            r.raise_for_status()
        except httpx.HTTPError as e:
            why = f"{type(e).__name__}: {e}"
            if isinstance(e, httpx.HTTPStatusError) and e.response.status_code == 401:
                return (
                    f"被测系统的测试名册需要管理凭证 {sut}/admin/roster answered 401: give the yidi server's "
                    f"admin token (--admin-token or {admin.ENV}), or the roster (--roster)"
                )
            return f"被测系统无应答或无测试名册 {sut}/admin/roster（{why}），请检查地址或用 --roster"
    return None


def _certify(request: Request, write: WriteReports) -> str:
    """One role: run, summarise, write the reports; its verdict (pass, fail, error: the run itself broke)."""
    started = time.time()
    outcomes, exit_code = _run_with_progress(request)
    doc = document(request, outcomes, started, time.time())
    written = write(doc, request.out)
    _summary(doc)
    for name, path in written.items():
        console.print(f"  {name}: {path}")
    console.print(f"  JUnit: {request.out / 'junit.xml'}")
    console.print(f"  Allure: {request.out / 'allure-results'} (yidi report {request.out})")
    if exit_code not in (0, 1, 5):  # 5: no case selected, the document says so
        console.print(f"[red]pytest ended with exit code {exit_code}[/red]")
        return "error"
    return str(doc["verdict"])


def _run_with_progress(request: Request) -> tuple[Listener, int]:
    seen: Counter[str] = Counter()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"认证 certify · {request.role}", total=None, counts="")

        def started(total: int) -> None:
            progress.update(task, total=total)

        def finished(o: Outcome) -> None:
            seen[o.outcome] += 1
            counts = " ".join(f"{MARK[k]} {seen[k]}" for k in OUTCOMES if seen[k])
            progress.update(task, advance=1, counts=counts)
            if o.outcome in ("failed", "error"):
                progress.console.print(
                    f"{MARK[o.outcome]} {o.case.id} {escape(o.case.zh)}\n    {escape(o.reason or '')}"
                )

        listener = Listener(started, finished)
        exit_code = run(request, listener)
    for problem in listener.problems:
        console.print(f"[red]未能运行 could not run:[/red] {escape(problem)}", soft_wrap=True)
    return listener, exit_code


def _summary(doc: dict[str, Any]) -> None:
    table = Table(title="认证结果 Results", title_justify="left")
    table.add_column("流程 flow")
    for outcome in OUTCOMES:
        table.add_column(f"{MARK[outcome]} {outcome}", justify="right")
    by_flow: dict[str, Counter[str]] = {}
    for c in doc["cases"]:
        by_flow.setdefault(c["flow"], Counter())[c["outcome"]] += 1
    for flow in catalogue.FLOWS:
        if flow in by_flow:
            table.add_row(f"{FLOW_ZH[flow]} {flow}", *(str(by_flow[flow][o] or "") for o in OUTCOMES))
    console.print(table)
    s = doc["summary"]
    mandatory = f"，必测未通过 {s['mandatory_failed']} mandatory not passed" if s["mandatory_failed"] else ""
    console.print(f"{doc['role']} 认证 {VERDICT[doc['verdict']]}  {s['passed']}/{s['total']} 通过{mandatory}")
    if (doc.get("scope") or {}).get("partial"):
        cases = doc["scope"]["cases"]
        console.print(f"[yellow]部分运行（--cases {cases}），不作为认证 partial run: no certificate[/yellow]")
    if doc["mutants"]:
        caught = [c["id"] for c in doc["cases"] if c["outcome"] in ("failed", "error")]
        mutants = ", ".join(doc["mutants"])
        console.print(f"[yellow]变异体演示，不作为认证 a demonstration with mutant(s) {mutants}[/yellow]")
        console.print(f"发现它的用例 caught by: {', '.join(caught) or '无 none'}")
