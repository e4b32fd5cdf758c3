"""The simulators' books, read for the checks after a run: what the treatment provinces, the hub and the
insured provinces booked of each settlement and cancellation, the visits left mid-call, the prepayment
funds, and a month's moves and alerts. ``yidi load``'s ledger check and ``yidi clear`` read the state
through here, never the tables themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, create_engine, func, select

from ..specs.envelope import datetime_text
from ..specs.money import of_cents, wire
from . import clearing
from .hub import KINDS
from .store import (
    database_url,
    hub_records,
    insured_settlements,
    messages,
    prepayment_alerts,
    prepayment_moves,
    settlements,
    visits,
)
from .treatment.visits import TRANSIENT

UNDONE = ("cancelled", "reversed")  # what became of a settlement later cancelled or reversed


@dataclass(frozen=True)
class Entry:
    """One row of one book: a settlement, or its cancellation (amounts in cents)."""

    book: str  # treatment, hub, insured
    setl_id: str
    cancellation: bool
    fund: int
    acct: int
    undone: bool = False  # a settlement later cancelled or reversed


@dataclass(frozen=True)
class Books:
    entries: tuple[Entry, ...]
    half_done: int = 0  # visits left mid-call: settling, cancelling or reversing

    def after(self, earlier: Books) -> Books:
        """These books without the settlements already in ``earlier`` (a run on a database used before)."""
        old = {e.setl_id for e in earlier.entries}
        return Books(tuple(e for e in self.entries if e.setl_id not in old), self.half_done)


Databases = str | Sequence[str]  # one database, or those of a deployment partitioned over processes


def _each(db: Databases) -> list[str]:
    return [db] if isinstance(db, str) else list(dict.fromkeys(db))


@contextmanager
def _reading(db_url: str) -> Iterator[Connection]:
    engine = create_engine(database_url(db_url))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def ledger(db: Databases) -> Books:
    """The three books and the half-done visits from a simulators' database (SQLite or PostgreSQL), or
    from each database of a partitioned deployment, together."""
    if not isinstance(db, str):
        parts = [ledger(one) for one in _each(db)]
        together = tuple(e for part in parts for e in part.entries)
        return Books(together, sum(part.half_done for part in parts))
    with _reading(db) as conn:
        entries = [
            Entry(book, r.setl_id, r.kind == "cancel", r.fund, r.acct, r.status in UNDONE)
            for book, table in (("treatment", settlements), ("insured", insured_settlements))
            for r in conn.execute(select(table).where(table.c.kind.in_(("settle", "cancel"))))
        ]
        entries += [
            Entry("hub", r.setl_id, KINDS[r.infno] == "cancel", r.fund, r.acct, r.status in UNDONE)
            for r in conn.execute(select(hub_records).where(hub_records.c.infno.in_(tuple(KINDS))))
        ]
        half_done = conn.execute(
            select(func.count()).select_from(visits).where(visits.c.state.in_(TRANSIENT))
        ).scalar_one()
    return Books(tuple(entries), int(half_done))


def insured_bookings(db_url: str) -> list[dict[str, Any]]:
    """Every settlement, cancellation and reversal the insured provinces booked, in the order booked: who,
    when, its status (reversed or not), what was asked (a settlement's ``claim``: the Y2304 setlinfo), what
    a cancellation or reversal undid (``of``, a msgid) and the answer (a reversal's carries no amounts)."""
    with _reading(db_url) as conn:
        rows = conn.execute(
            select(insured_settlements).where(insured_settlements.c.kind.in_(("settle", "cancel")))
        ).mappings()
        booked = [
            {k: r[k] for k in ("msgid", "setl_id", "kind", "psn_no", "status", "sim_time")}
            | {k: r["doc"].get(k) for k in ("claim", "of", "answer")}
            for r in rows
        ]
        # a reversal (Y2601) is a message, not a booking: the message it undid names it (reversed_by)
        undone, original, reversal = insured_settlements, messages, messages.alias("reversal")
        reversed_ = (
            select(reversal.c.msgid, reversal.c.sim_time, undone.c.msgid.label("of"), undone.c.setl_id)
            .add_columns(undone.c.psn_no)
            .where(original.c.reversed_by.is_not(None))
            .join(undone, _same(undone, original, original.c.msgid))
            .join(reversal, _same(reversal, original, original.c.reversed_by))
        )
        booked += [
            dict(r) | {"kind": "reverse", "status": "active", "claim": None, "answer": None}
            for r in conn.execute(reversed_).mappings()
        ]
        return sorted(booked, key=lambda b: (b["sim_time"], b["msgid"]))


def _same(table: Any, other: Any, msgid: Any) -> Any:
    """``table``'s row of ``other``'s node with that msgid."""
    return (table.c.node == other.c.node) & (table.c.msgid == msgid)


def funds(db: Databases) -> list[str]:
    """What is wrong with the prepayment funds: each balance the sum of its moves, and what settlements
    drew the national records' net payment (``clearing.check``); the hub's books, wherever they are."""
    problems = []
    for one in _each(db):
        with _reading(one) as conn:
            problems += clearing.check(conn)
    return problems


def month(db_url: str, month: str) -> dict[str, Any]:
    """The funds' moves and alerts up to the month's end, and what is wrong with the money between
    provinces in that month."""
    _, until = clearing.span(month)
    with _reading(db_url) as conn:

        def rows(table: Any) -> list[dict[str, Any]]:
            found = conn.execute(select(table).where(table.c.sim_time < until).order_by(table.c.id))
            return [dict(r) for r in found.mappings()]

        def yuan_of(row: dict[str, Any], *amounts: str) -> dict[str, Any]:
            kept = {k: v for k, v in row.items() if k not in ("id", "sim_time")}
            return (
                kept | {"at": datetime_text(row["sim_time"])} | {k: wire(of_cents(row[k])) for k in amounts}
            )

        moves = [yuan_of(m, "amount", "balance") for m in rows(prepayment_moves)]
        alerts = [yuan_of(a, "balance", "size") for a in rows(prepayment_alerts)]
        problems = clearing.check(conn, [month])
    return {"moves": moves, "alerts": alerts, "problems": problems}
