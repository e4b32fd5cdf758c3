"""``yidi his``: act as a hospital's HIS against a gateway (yidi's or a real one): a whole episode, or what
reading a test person's card gives."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from ..specs import loader
from ..specs.console import console as rich_console
from ..world import topology as topology_module
from ..world.cli import WorldFile
from ..world.roster import read_card
from ..world.topology import Topology
from . import admin
from .admin import AdminToken
from .his import His, Hospital, Refused

out = rich_console()
err = rich_console(stderr=True)

his = typer.Typer(
    help="Act as a hospital's HIS against a gateway (yidi's or a real one).", no_args_is_help=True
)


BILLS = {
    "small": 3_000.0,
    "typical": 23_930.0,
    "large": 400_000.0,
}  # yuan: a short stay, the average (§1.3), past a cap


def bill(world: Topology, hospital: str, total: float, lines: int) -> list[tuple[str, float, float]]:
    """``lines`` fee lines of the hospital's catalog that add up to about ``total``."""
    catalog = world.fee_items(hospital, lines)
    share = total / len(catalog)
    return [(code, float(max(1, round(share / price))), price) for code, _, price in catalog]


def fee_line(text: str, world: Topology) -> tuple[str, float, float]:
    """CODE:QUANTITY[:PRICE] (the world's price of the item when none is given)."""
    code, _, rest = text.partition(":")
    quantity, _, price = rest.partition(":")
    item = world.items.get(code)
    if item is None:
        raise typer.BadParameter(f"{code} is not in the world's national list", param_hint="--item")
    try:
        return code, float(quantity or 1), float(price) if price else float(item.price)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: CODE:QUANTITY[:PRICE], e.g. 001101000010000:3", param_hint="--item"
        ) from None


@his.command("episode")
def his_episode(
    person: Annotated[str, typer.Option(help="Roster key of the test person, e.g. P01.")],
    hospital: Annotated[str, typer.Option(help="fixmedins_code of the hospital to act as.")],
    url: Annotated[
        str, typer.Option(envvar="YIDI_URL", help="Where the simulators are (roster and cards).")
    ] = "http://127.0.0.1:8000",
    item: Annotated[
        list[str], typer.Option("--item", help="A fee line CODE:QUANTITY[:PRICE]; repeat for more.")
    ] = [],  # noqa: B006
    bill_: Annotated[
        str | None, typer.Option("--bill", help=f"A bill of about this size: {', '.join(BILLS)}.")
    ] = None,
    lines: Annotated[int, typer.Option(help="Fee lines to upload (without --item).")] = 20,
    batch: Annotated[int, typer.Option(help="Lines per 2301.")] = 10,
    account: Annotated[bool, typer.Option(help="Ask to pay from the personal account.")] = True,
    world: WorldFile = None,
    admin_token: AdminToken = None,
) -> None:
    """A whole inpatient episode, 9001 → 1101 → 2401 → 2301… → 2402 → 2303 → 2304, and its settlement
    explained step by step (the platform's 结算过程信息)."""
    w = topology_module.load(world)
    if bill_ is not None and bill_ not in BILLS:
        raise typer.BadParameter(f"{bill_!r} is not one of {', '.join(BILLS)}", param_hint="--bill")
    if w.hospital(hospital) is None:
        raise typer.BadParameter(f"no hospital {hospital} in the world {w.name}", param_hint="--hospital")
    items = (
        [fee_line(x, w) for x in item]
        if item
        else bill(w, hospital, BILLS[bill_], lines)
        if bill_
        else w.fee_items(hospital, lines)
    )
    with httpx.Client(timeout=30) as client:
        try:
            data = (
                client.get(f"{url}/admin/roster", headers=admin.headers(admin_token))
                .raise_for_status()
                .json()
            )
        except httpx.HTTPError as e:
            err.print(f"[red]✗[/red] no roster at {url}/admin/roster: {e}")
            raise typer.Exit(2) from None
        entry = next(
            (h for p in data["provinces"] for h in p["hospitals"] if h["fixmedins_code"] == hospital), None
        )
        card = client.get(f"{url}/cards/{person}")
        if entry is None or card.status_code != 200:
            err.print(
                f"[red]✗[/red] the platform at {url} knows no {'person ' + person if entry else hospital}"
            )
            raise typer.Exit(2)
        client_his = His(loader.load(data["spec"]), Hospital.from_roster(entry), client=client)
        try:
            episode = client_his.inpatient_episode(card.json(), items, batch=batch, use_account=account)
        except Refused as e:
            err.print(f"[red]✗[/red] 【{e.reply.infno}】{e.reply.msgid} {e.reply.err_msg}")
            raise typer.Exit(1) from None
    table = Table(title=f"{person} at {entry['name']} · mdtrt_id {episode.mdtrt_id}", title_justify="left")
    for column in ("infno", "msgid", "infcode", "ms", "note"):
        table.add_column(column)
    for r in episode.replies:
        table.add_row(r.infno, r.msgid, str(r.infcode), f"{r.seconds * 1000:.0f}", r.warn_msg or r.err_msg)
    out.print(table)
    assert episode.settlement is not None
    explain(episode.settlement)


def explain(settlement: dict[str, Any]) -> None:
    """The settlement as a person reads it: each step the platform says it took, then each fund and the
    amounts."""
    s, detail = settlement["setlinfo"], settlement.get("setldetail") or []
    steps = next((str(d.get("setl_proc_info") or "") for d in detail if d.get("setl_proc_info")), "")
    out.print("[bold]结算过程 how it was settled[/bold]")
    for n, step in enumerate((x for x in steps.split("；") if x), 1):
        out.print(f"  {n:2d}. {step}")
    funds = Table(title="基金支付 funds", title_justify="left")
    for column in ("fund_pay_type", "name", "base", "limit", "paid"):
        funds.add_column(column, justify="left" if column in ("fund_pay_type", "name") else "right")
    for d in detail:
        funds.add_row(
            str(d["fund_pay_type"]), str(d.get("fund_pay_type_name") or ""),
            f"{d['inscp_scp_amt']:,.2f}", f"{d['crt_payb_lmt_amt']:,.2f}", f"{d['fund_payamt']:,.2f}",
        )  # fmt: skip
    out.print(funds)
    amounts = Table(title=f"结算 settlement {s.get('setl_id', '')}", title_justify="left")
    amounts.add_column("field")
    amounts.add_column("yuan", justify="right")
    for k in ("medfee_sumamt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt",
              "psn_part_amt", "acct_pay", "psn_cash_pay", "balc"):  # fmt: skip
        amounts.add_row(k, f"{s[k]:,.2f}")
    out.print(amounts)


@his.command("card")
def his_card(
    person: str,
    world: WorldFile = None,
    url: Annotated[
        str | None,
        typer.Option(envvar="YIDI_URL", help="Read it from the simulators here, not from the world file."),
    ] = None,
) -> None:
    """What reading a test person's card gives (card number, card_sn, certno, e-voucher token)."""
    if url is not None:
        try:
            r = httpx.get(f"{url.rstrip('/')}/cards/{person}", timeout=30)
        except httpx.HTTPError as e:
            err.print(f"[red]✗[/red] no card reader at {url}/cards: {e}")
            raise typer.Exit(2) from None
        if r.status_code != 200:
            err.print(f"[red]✗[/red] the platform at {url} knows no person {person}")
            raise typer.Exit(2)
        sys.stdout.write(json.dumps(r.json(), ensure_ascii=False, indent=2) + "\n")
        return
    found = topology_module.load(world).person(person)
    if found is None:
        err.print(f"[red]no person {person}[/red]")
        raise typer.Exit(2)
    sys.stdout.write(json.dumps(read_card(found), ensure_ascii=False, indent=2) + "\n")
