"""Month-end clearing between provinces (月度清算), as ``yidi clear`` runs it after days of load: every
province's clearing desk fetches the month's statements from the hub and confirms and pays what it owes;
then the statements, the funds with their moves and alerts, and what is wrong with the money, as one
clearing document (rendered by ``reports.clearing``)."""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from ..actors import admin, desks
from ..simulators import books, clearing
from ..simulators.app import Options
from ..simulators.background import serving
from ..specs import loader
from ..specs.envelope import datetime_text
from ..world.clock import real_now


class NoDatabase(ValueError):
    """The built-in hub's database is not there."""


def month_end(
    month: str, *, sut: str, db: str, withhold: Collection[str] = (), admin_token: str | None = None
) -> dict[str, Any]:
    """The clearing document of ``month`` against yidi's hub on ``db`` (``sut`` builtin) or a hub by URL;
    a hub's refusal is raised as the desks' ``Refused``."""
    if sut == "builtin":
        file = db.removeprefix("sqlite:///")
        if db.startswith("sqlite:///") and not Path(file).exists():
            raise NoDatabase(f"no database at {file}: run yidi load first, or give --db")
        with contextlib.ExitStack() as stack:
            served = stack.enter_context(serving(Options(db=db)))
            end = clearing.month_end(month)
            if served.sim.clock.now().date() < end:  # the month must be over: move to the first of the next
                moved = {"set": f"{end}T00:00:05"}
                httpx.post(f"{served.url}/admin/clock", json=moved, headers=served.admin).raise_for_status()
            doc = desks.month_end(served.sim.wire, served.roster, month, withhold=withhold)
            doc["generated"] = datetime_text(served.sim.clock.now())
        doc |= books.month(db, month)
    else:
        got = httpx.get(f"{sut.rstrip('/')}/admin/roster", timeout=60, headers=admin.headers(admin_token))
        roster = got.raise_for_status().json()
        doc = desks.month_end(loader.load(roster.get("spec")), roster, month, withhold=withhold)
        doc |= {"generated": datetime_text(real_now()), "moves": [], "alerts": [], "problems": []}
    pending = [s for s in doc["statements"] if s["state"] == "issued" and s["amount"]]
    doc["verdict"] = "unbalanced" if doc["problems"] else "pending" if pending else "balanced"
    return doc


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
