"""``yidi serve``, ``yidi roster``, ``yidi mutants``, ``yidi his`` and ``yidi clear``: the simulators' command
line."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yidi.reports import clearing as clearing_report
from yidi.specs import loader
from yidi.specs.envelope import datetime_text

from . import clearing, desks
from . import topology as topology_module
from .app import Options, Simulation, read_card, roster
from .background import config as serving_config
from .background import serving
from .clock import real_now
from .faults import FAULTS, MUTANTS
from .his import Refused

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

TopologyFile = Annotated[Path | None, typer.Option("--topology", "-t", help="A topology YAML of your own.")]


def _peers(values: list[str]) -> dict[str, str]:
    pairs = [v.split("=", 1) for v in values]
    if any(len(p) != 2 for p in pairs):
        raise typer.BadParameter("--peer takes NAME=URL, e.g. hub=http://10.0.0.5:8000/hub")
    return dict(pairs)


def serve(
    topology: TopologyFile = None,
    db: Annotated[
        str, typer.Option(help="SQLAlchemy URL: sqlite:///file.db (default) or postgresql+psycopg://…")
    ] = "sqlite:///yidi-state.db",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    spec: Annotated[
        str | None, typer.Option("--spec", help="Version and profile on the wire, e.g. V1.0+guangzhou.")
    ] = None,
    fault: Annotated[
        list[str], typer.Option("--fault", help="NAME[:SCOPE][=VALUE][*TIMES]; see yidi mutants.")
    ] = [],  # noqa: B006
    mutant: Annotated[
        list[str], typer.Option("--mutant", help="A deliberately wrong behaviour; see yidi mutants.")
    ] = [],  # noqa: B006
    only: Annotated[
        list[str], typer.Option("--only", help="Serve only these nodes: hub, province:510000.")
    ] = [],  # noqa: B006
    peer: Annotated[
        list[str], typer.Option("--peer", help="Where a node not served here is: NAME=URL.")
    ] = [],  # noqa: B006
    clock: Annotated[
        datetime | None, typer.Option(help="Start the simulated clock here (ISO date-time).")
    ] = None,
) -> None:
    """Start the simulators (national hub, provinces, hospitals' gateways, card reader) in one server."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        sim = Simulation(
            Options(
                topology=topology,
                db=db,
                spec=spec,
                faults=fault,
                mutants=mutant,
                only=only,
                peers=_peers(peer),
                clock=clock,
                base_url=base_url,
            )
        )
    except ValueError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    r = sim.roster()
    err.print(f"yidi simulators · {r['topology']} · spec {r['spec']} · state {db}")
    for p in r["provinces"]:
        if sim.serves(f"province:{p['admdvs']}"):
            gateway = p["hospitals"][0]["gateway"]
            err.print(f"  {p['name']:6} hospitals → {gateway}/{{infno}}  insured → {p['insured_url']}")
    if sim.hub:
        err.print(f"  国家平台 hub → {r['hub']['url']}/{{infno}}")
    err.print(
        f"  roster → {base_url}/admin/roster · cards → {base_url}/cards/{{P01…}} · "
        f"faults {sim.faults.state()}"
    )
    uvicorn.Server(serving_config(sim, host, port)).run()


def demo(
    url: Annotated[
        str | None, typer.Option(help="Simulators already running here; default: start them.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="State for the simulators started here; default: a fresh SQLite file in a temporary folder."
        ),
    ] = None,
    stay: Annotated[
        bool, typer.Option("--serve", help="Keep serving after the demo (Ctrl-C stops).")
    ] = False,
) -> None:
    """A first joint test: cross-province and local episodes, a retry, a cancellation, refusals; over HTTP."""
    from .background import serving
    from .demo import Demo, Outcome

    def show(outcome: Outcome) -> None:
        mark = "[green]✔[/green]" if outcome.passed else "[red]✘[/red]"
        out.print(f" {mark} {outcome.title} · {outcome.person} @ {outcome.hospital}\n     {outcome.detail}")

    with contextlib.ExitStack() as stack:
        if url is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="yidi-demo-"))
            served = stack.enter_context(serving(Options(db=db or f"sqlite:///{folder}/state.db")))
            url, t = served.url, served.sim.topology
            out.print(f"yidi simulators serving at {url} (roster: {url}/admin/roster)")
        else:
            t = topology_module.load()
        with out.status("joint test running…"):
            outcomes = Demo(url, t).run(show)
        first = next((o.episode for o in outcomes if o.episode is not None), None)
        if first is not None:
            table = Table(
                title=f"messages of the first episode · mdtrt_id {first.mdtrt_id}", title_justify="left"
            )
            for column in ("infno", "msgid", "infcode", "ms"):
                table.add_column(column)
            for r in first.replies:
                table.add_row(r.infno, r.msgid, str(r.infcode), f"{r.seconds * 1000:.0f}")
            out.print(table)
        passed = sum(o.passed for o in outcomes)
        colour = "green" if passed == len(outcomes) else "red"
        out.print(f"[{colour}]{passed}/{len(outcomes)} scenarios as expected[/{colour}]")
        if stay:
            out.print(f"serving at {url}; Ctrl-C stops")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    if passed != len(outcomes):
        raise typer.Exit(1)


def roster_command(
    topology: TopologyFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable, with credentials.")] = False,
    base_url: Annotated[str, typer.Option(help="Where the simulators are served.")] = "http://127.0.0.1:8000",
) -> None:
    """What a tester needs: regions, hospitals (gateway, paasid, secret) and every test person."""
    t = topology_module.load(topology)
    from yidi.specs import loader

    data = roster(t, base_url, loader.load())
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    hospitals = Table(title="定点医药机构 hospitals", title_justify="left")
    for column in ("province", "fixmedins_code", "name", "hosp_lv", "admdvs", "gateway", "paasid"):
        hospitals.add_column(column, no_wrap=True)
    for p in data["provinces"]:
        for h in p["hospitals"]:
            hospitals.add_row(
                p["name"],
                h["fixmedins_code"],
                h["name"],
                h["hosp_lv"],
                h["admdvs"],
                h["gateway"],
                h["paasid"],
            )
    out.print(hospitals)
    persons = Table(title="测试人员 test persons (真人真卡)", title_justify="left")
    for column in ("key", "name", "insured", "insutype", "psn_type", "card", "scenario"):
        persons.add_column(column, no_wrap=column != "scenario", overflow="fold")
    for person in data["persons"]:
        card = person["card"]["cardno"] + (
            "" if person["card"]["status"] == "1" else f" (状态{person['card']['status']})"
        )
        persons.add_row(
            person["key"],
            person["name"],
            person["insuplc_admdvs"],
            person["insutype"],
            person["psn_type"],
            card,
            person["scenario"],
        )
    out.print(persons)
    if data.get("crowd"):
        keys = [p["key"] for p in data["crowd"]]
        out.print(f"压力测试人员 load crowd: {len(keys)} persons ({keys[0]}–{keys[-1]}), listed by --json")


def clear(
    month: Annotated[str, typer.Option(help="The month to clear, yyyyMM (e.g. 202611).")],
    sut: Annotated[
        str,
        typer.Option(help="The hub: builtin (yidi's, on --db) or a hub's base URL serving /admin/roster."),
    ] = "builtin",
    db: Annotated[
        str, typer.Option(help="The simulators' database; by default the last yidi load's.")
    ] = "sqlite:///yidi-load/state.db",
    withhold: Annotated[
        list[str], typer.Option("--withhold", help="A province (admdvs) that does not confirm this month.")
    ] = [],  # noqa: B006
    out_dir: Annotated[Path, typer.Option("--out", help="Where clearing.json and clearing.html go.")] = Path(
        "yidi-clear"
    ),
) -> None:
    """Month-end clearing between provinces (月度清算): every province fetches the month's statements from the
    hub and confirms and pays what it owes; the matrix, the funds and their alerts, and the invariants."""
    if not re.fullmatch(r"20\d\d(0[1-9]|1[0-2])", month):
        raise typer.BadParameter(f"{month!r}: a month as yyyyMM, e.g. 202611")
    if sut == "builtin":
        file = db.removeprefix("sqlite:///")
        if db.startswith("sqlite:///") and not Path(file).exists():
            raise typer.BadParameter(f"no database at {file}: run yidi load first, or give --db")
        with contextlib.ExitStack() as stack:
            served = stack.enter_context(serving(Options(db=db)))
            end = clearing.month_end(month)
            if served.sim.clock.now().date() < end:  # the month must be over: move to the first of the next
                httpx.post(f"{served.url}/admin/clock", json={"set": f"{end}T00:00:05"}).raise_for_status()
            doc = desks.month_end(served.sim.wire, served.roster, month, withhold=withhold)
            doc["generated"] = datetime_text(served.sim.clock.now())
        doc |= desks.books(db, month)
    else:
        roster_ = httpx.get(f"{sut.rstrip('/')}/admin/roster", timeout=60).raise_for_status().json()
        try:
            doc = desks.month_end(loader.load(roster_.get("spec")), roster_, month, withhold=withhold)
        except Refused as e:  # the hub's own word: its month not over, a statement it will not issue …
            err.print(f"[red]✗[/red] 国家平台拒绝 the hub refused {escape(str(e))}")
            raise typer.Exit(1) from None
        doc |= {"generated": datetime_text(real_now()), "moves": [], "alerts": [], "problems": []}
    pending = [s for s in doc["statements"] if s["state"] == "issued" and s["amount"]]
    doc["verdict"] = "unbalanced" if doc["problems"] else "pending" if pending else "balanced"
    json_path, html_path = clearing_report.write(doc, out_dir)
    out.print(clearing_table(doc))
    for problem in doc["problems"]:
        out.print(f"[red]✗[/red] {problem}")
    for a in doc["alerts"]:
        out.print(f"[yellow]![/yellow] {a['at']} {a['insured']}→{a['treatment']} {a['reason']}")
    verdict = {
        "balanced": "[bold green]平账 balanced[/bold green]: every statement confirmed and paid, to the cent",
        "pending": f"[bold yellow]待确认 pending[/bold yellow]: {len(pending)} statement(s) not confirmed",
        "unbalanced": f"[bold red]不平 unbalanced[/bold red]: {len(doc['problems'])} problem(s)",
    }[doc["verdict"]]
    out.print(f"{verdict} · {html_path} · {json_path}")
    raise typer.Exit({"balanced": 0, "unbalanced": 1, "pending": 2}[doc["verdict"]])


def clearing_table(doc: dict[str, Any]) -> Table:
    """Who owes whom (rows pay, columns receive), in yuan; an unconfirmed statement marked *."""
    provinces = doc["provinces"]
    cells = {(s["insured"], s["treatment"]): s for s in doc["statements"]}
    table = Table(
        title=f"{doc['month']} 清算矩阵 who owes whom (参保地 pays → 就医地 receives)", title_justify="left"
    )
    table.add_column("参保地 \\ 就医地")
    for code in provinces:
        table.add_column(provinces[code], justify="right")
    table.add_column("应付 payable", justify="right")
    for payer in provinces:
        row = [cells.get((payer, payee)) for payee in provinces]
        table.add_row(
            provinces[payer],
            *(
                "—" if s is None else f"{s['amount']:,.2f}" + ("*" if s["state"] == "issued" else "")
                for s in row
            ),
            f"{sum(s['amount'] for s in row if s):,.2f}",
        )
    table.add_row(
        "应收 receivable",
        *(f"{sum(s['amount'] for (_, t), s in cells.items() if t == payee):,.2f}" for payee in provinces),
        f"{sum(s['amount'] for s in cells.values()):,.2f}",
    )
    return table


def mutants() -> None:
    """The faults a test team can switch on, and the mutants the suites must catch."""
    table = Table(title="faults (--fault NAME[:SCOPE][=VALUE][*TIMES])", title_justify="left")
    for column in ("name", "中文", "what"):
        table.add_column(column)
    for name, kind in FAULTS.items():
        table.add_row(name, kind.zh, kind.en)
    out.print(table)
    table = Table(title="mutants (--mutant NAME): deliberately wrong behaviours", title_justify="left")
    for column in ("name", "rule", "中文", "what"):
        table.add_column(column)
    for name, kind in MUTANTS.items():
        table.add_row(name, kind.rule, kind.zh, kind.en)
    out.print(table)


his = typer.Typer(
    help="Act as a hospital's HIS against a gateway (yidi's or a real one).", no_args_is_help=True
)


@his.command("episode")
def his_episode(
    person: Annotated[str, typer.Option(help="Roster key of the test person, e.g. P01.")],
    hospital: Annotated[str, typer.Option(help="fixmedins_code of the hospital to act as.")],
    url: Annotated[
        str, typer.Option(help="Where the simulators are (roster and cards).")
    ] = "http://127.0.0.1:8000",
    lines: Annotated[int, typer.Option(help="Fee lines to upload.")] = 20,
    batch: Annotated[int, typer.Option(help="Lines per 2301.")] = 10,
) -> None:
    """A whole inpatient episode: 9001 → 1101 → 2401 → 2301… → 2402 → 2303 → 2304."""
    from yidi.specs import loader

    from .his import His, Hospital, Refused

    with httpx.Client(timeout=30) as client:
        data = client.get(f"{url}/admin/roster").json()
        entry = next(
            (h for p in data["provinces"] for h in p["hospitals"] if h["fixmedins_code"] == hospital), None
        )
        if entry is None:
            err.print(f"[red]no hospital {hospital} in the roster[/red]")
            raise typer.Exit(2)
        card = client.get(f"{url}/cards/{person}").json()
        spec = loader.load(data["spec"])
        items = topology_module.load().fee_items(hospital, lines)
        client_his = His(spec, Hospital.from_roster(entry), client=client)
        try:
            episode = client_his.inpatient_episode(card, items, batch=batch)
        except Refused as e:
            for sent in e.reply.request, e.reply.body:
                err.print(json.dumps(sent, ensure_ascii=False))
            raise typer.Exit(1) from None
    table = Table(title=f"{person} at {entry['name']} · mdtrt_id {episode.mdtrt_id}", title_justify="left")
    for column in ("infno", "msgid", "infcode", "ms", "note"):
        table.add_column(column)
    for r in episode.replies:
        table.add_row(r.infno, r.msgid, str(r.infcode), f"{r.seconds * 1000:.0f}", r.warn_msg or r.err_msg)
    out.print(table)
    assert episode.settlement is not None
    s = episode.settlement["setlinfo"]
    out.print(
        {
            k: s[k]
            for k in (
                "setl_id",
                "medfee_sumamt",
                "inscp_scp_amt",
                "act_pay_dedc",
                "pool_prop_selfpay",
                "hifp_pay",
                "fund_pay_sumamt",
                "psn_part_amt",
                "acct_pay",
                "psn_cash_pay",
                "balc",
            )
        }
    )


@his.command("card")
def his_card(person: str, topology: TopologyFile = None) -> None:
    """What reading a test person's card gives (card number, card_sn, certno, e-voucher token)."""
    found = topology_module.load(topology).person(person)
    if found is None:
        err.print(f"[red]no person {person}[/red]")
        raise typer.Exit(2)
    sys.stdout.write(json.dumps(read_card(found), ensure_ascii=False, indent=2) + "\n")
