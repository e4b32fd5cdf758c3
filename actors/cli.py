"""``yidi his``: act as a hospital's HIS against a gateway (yidi's or a real one): a whole episode, or what
reading a test person's card gives."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from ..specs import loader
from ..world import topology as topology_module
from ..world.cli import WorldFile
from ..world.roster import read_card
from .his import His, Hospital, Refused

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

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
def his_card(person: str, world: WorldFile = None) -> None:
    """What reading a test person's card gives (card number, card_sn, certno, e-voucher token)."""
    found = topology_module.load(world).person(person)
    if found is None:
        err.print(f"[red]no person {person}[/red]")
        raise typer.Exit(2)
    sys.stdout.write(json.dumps(read_card(found), ensure_ascii=False, indent=2) + "\n")
