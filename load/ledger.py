"""The ledger check after a load run: not one settlement lost, doubled or mis-booked.

Every settlement the users saw acknowledged must be booked exactly once, with the same amounts, by the
treatment province, the national hub and the insured province; every cancellation the users saw must be
booked by all three; a settlement no user saw acknowledged (its answer was lost) must have been undone
(cancelled or reversed), or be booked nowhere; and no visit may be left half-done.

``check`` is a pure function of what the users saw and what the books hold, so it can be shown to catch a
planted lost or doubled settlement; ``read`` takes the books from a simulators' database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import create_engine, func, select

BOOKS = ("treatment", "hub", "insured")
UNDONE = ("cancelled", "reversed")


@dataclass(frozen=True)
class Seen:
    """A settlement as a user saw it acknowledged (amounts in cents)."""

    setl_id: str
    fund: int
    acct: int
    cross: bool = True  # a local settlement is booked by the treatment and insured sides only
    cancelled: bool = False  # the user also saw its cancellation (2305) acknowledged
    inpatient: bool = True  # a whole stay's settlement (2304), not an outpatient visit's (2207)

    @property
    def books(self) -> tuple[str, ...]:
        return BOOKS if self.cross else ("treatment", "insured")


@dataclass(frozen=True)
class Entry:
    """One row of one book: a settlement, or its cancellation."""

    book: str  # treatment, hub, insured
    setl_id: str
    kind: str  # settle, cancel
    fund: int
    acct: int
    status: str = "active"  # of a settle row: active, cancelled, reversed


@dataclass(frozen=True)
class Books:
    entries: tuple[Entry, ...]
    half_done: int = 0  # visits left settling, cancelling or reversing

    def after(self, earlier: Books) -> Books:
        """These books without the settlements already in ``earlier`` (a run on a database used before)."""
        old = {e.setl_id for e in earlier.entries}
        return Books(tuple(e for e in self.entries if e.setl_id not in old), self.half_done)


def check(seen: Iterable[Seen], books: Books) -> list[str]:
    """What is wrong with the books, one line each (Chinese first, as a test team reads it); [] if nothing."""
    settled = Counter((e.book, e.setl_id) for e in books.entries if e.kind == "settle")
    cancelled = Counter((e.book, e.setl_id) for e in books.entries if e.kind == "cancel")
    rows = {(e.book, e.setl_id): e for e in books.entries if e.kind == "settle"}
    acknowledged = {s.setl_id: s for s in seen}
    problems: list[str] = []
    for s in acknowledged.values():
        for key in ((book, s.setl_id) for book in s.books):
            where = f"{s.setl_id} 在 {key[0]}"
            if settled[key] == 0:
                problems.append(f"结算丢失 lost: {where} 无记录，而医院已收到确认")
            elif settled[key] > 1:
                problems.append(f"重复结算 paid twice: {where} 记账{settled[key]}次")
            elif (rows[key].fund, rows[key].acct) != (s.fund, s.acct):
                problems.append(
                    f"金额不符 amounts differ: {where} 基金{rows[key].fund}、账户{rows[key].acct}分，"
                    f"医院收到基金{s.fund}、账户{s.acct}分"
                )
            if s.cancelled and cancelled[key] != 1:
                problems.append(
                    f"撤销未记账 cancellation: {where} 撤销记录{cancelled[key]}条，医院已收到撤销确认"
                )
    for (book, setl_id), row in sorted(rows.items()):
        if setl_id not in acknowledged and row.status not in UNDONE:
            problems.append(
                f"未确认却有效 unacknowledged: {setl_id} 在 {book} 有效，无医院收到确认，也未冲正"
            )
    if books.half_done:
        problems.append(f"半途 half-done: {books.half_done} 笔就诊停在结算、撤销或冲正中")
    return problems


def read(db_url: str) -> Books:
    """The three books and the half-done visits from a simulators' database (SQLite or PostgreSQL)."""
    from ..simulators.store import hub_records, insured_settlements, settlements, visits

    hub_kind = {"Y2304": "settle", "Y2305": "cancel"}
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            treatment = [
                Entry("treatment", r.setl_id, r.kind, r.fund, r.acct, r.status)
                for r in conn.execute(select(settlements).where(settlements.c.kind.in_(("settle", "cancel"))))
            ]
            insured = [
                Entry("insured", r.setl_id, r.kind, r.fund, r.acct, r.status)
                for r in conn.execute(
                    select(insured_settlements).where(insured_settlements.c.kind.in_(("settle", "cancel")))
                )
            ]
            hub = [
                Entry("hub", r.setl_id, hub_kind[r.infno], r.fund, r.acct, r.status)
                for r in conn.execute(select(hub_records).where(hub_records.c.infno.in_(tuple(hub_kind))))
            ]
            half_done = conn.execute(
                select(func.count())
                .select_from(visits)
                .where(visits.c.state.in_(("settling", "cancelling", "reversing")))
            ).scalar_one()
    finally:
        engine.dispose()
    return Books(tuple(treatment + hub + insured), int(half_done))


def funds(db_url: str) -> list[str]:
    """The prepayment funds after a run (simulators/clearing.py): each balance the sum of its moves, and
    what settlements drew the national records' net payment."""
    from ..simulators import clearing

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return clearing.check(conn)
    finally:
        engine.dispose()
