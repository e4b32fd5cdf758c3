"""The ledger check after a load run: not one settlement lost, doubled or mis-booked.

Every settlement the users saw acknowledged must be booked exactly once, with the same amounts, by the
treatment province, the national hub and the insured province; every cancellation the users saw must be
booked by all three; a settlement no user saw acknowledged (its answer was lost) must have been undone
(cancelled or reversed), or be booked nowhere; and no visit may be left half-done.

``check`` is a pure function of what the users saw and what the books hold (``simulators.books`` reads
them from a simulators' database), so it can be shown to catch a planted lost or doubled settlement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..simulators.books import Books

BOOKS = ("treatment", "hub", "insured")


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


def check(seen: Iterable[Seen], books: Books) -> list[str]:
    """What is wrong with the books, one line each (Chinese first, as a test team reads it); [] if nothing."""
    settled = Counter((e.book, e.setl_id) for e in books.entries if not e.cancellation)
    cancelled = Counter((e.book, e.setl_id) for e in books.entries if e.cancellation)
    rows = {(e.book, e.setl_id): e for e in books.entries if not e.cancellation}
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
        if setl_id not in acknowledged and not row.undone:
            problems.append(
                f"未确认却有效 unacknowledged: {setl_id} 在 {book} 有效，无医院收到确认，也未冲正"
            )
    if books.half_done:
        problems.append(f"半途 half-done: {books.half_done} 笔就诊停在结算、撤销或冲正中")
    return problems
