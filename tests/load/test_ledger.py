"""The ledger check (load/ledger.py) catches a lost, a doubled, a mis-booked and a half-done settlement, and
passes the books of a real run with cancellations and a lost answer reversed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, delete, insert, select

from yidi.actors.his import His, Reply
from yidi.load.ledger import Seen, check
from yidi.simulators.app import Options
from yidi.simulators.background import serving
from yidi.simulators.books import Books, Entry, ledger
from yidi.simulators.store import hub_records, insured_settlements, visits
from yidi.specs import loader
from yidi.world import topology

SEEN = Seen("S1", fund=1000, acct=200)
BOOKED = tuple(Entry(book, "S1", False, 1000, 200) for book in ("treatment", "hub", "insured"))


def test_consistent_books_pass() -> None:
    assert check([SEEN], Books(BOOKED)) == []


def test_a_planted_lost_settlement_is_caught() -> None:
    books = Books(tuple(e for e in BOOKED if e.book != "hub"))
    assert check([SEEN], books) == ["结算丢失 lost: S1 在 hub 无记录，而医院已收到确认"]


def test_a_planted_doubled_settlement_is_caught() -> None:
    books = Books((*BOOKED, Entry("insured", "S1", False, 1000, 200)))
    assert check([SEEN], books) == ["重复结算 paid twice: S1 在 insured 记账2次"]


def test_amounts_a_cancellation_and_half_done_visits_are_checked() -> None:
    wrong = tuple(dataclasses.replace(e, fund=999) if e.book == "insured" else e for e in BOOKED)
    assert check([SEEN], Books(wrong))[0].startswith("金额不符 amounts differ: S1 在 insured 基金999")
    problems = check([dataclasses.replace(SEEN, cancelled=True)], Books(BOOKED, half_done=1))
    assert len(problems) == 4 and problems[-1].startswith("半途 half-done: 1")


def test_an_unacknowledged_settlement_must_have_been_undone() -> None:
    stray = Entry("treatment", "S2", False, 5, 0)
    assert check([SEEN], Books((*BOOKED, stray))) == [
        "未确认却有效 unacknowledged: S2 在 treatment 有效，无医院收到确认，也未冲正"
    ]
    assert check([SEEN], Books((*BOOKED, dataclasses.replace(stray, undone=True)))) == []


def test_a_local_settlement_is_not_looked_for_at_the_hub() -> None:
    local = dataclasses.replace(SEEN, cross=False)
    assert check([local], Books(tuple(e for e in BOOKED if e.book != "hub"))) == []


def cents(value: object) -> int:
    return round(float(str(value)) * 100)


def seen(reply: Reply, *, cross: bool = True, cancelled: bool = False) -> Seen:
    s = reply.output["setlinfo"]
    return Seen(str(s["setl_id"]), cents(s["fund_pay_sumamt"]), cents(s["acct_pay"]), cross, cancelled)


@pytest.fixture
def run(tmp_path: Path) -> tuple[str, list[Seen]]:
    """A cross-province stay, a local one, one cancelled, and one whose 2304 answer was lost (then 2601)."""
    db = f"sqlite:///{tmp_path}/books.db"
    spec, items = loader.load(), topology.load().fee_items
    with serving(Options(db=db)) as served:
        cross = His(spec, served.hospital("H50000000001"))
        local = His(spec, served.hospital("H51010000001"))
        cross.sign_in(), local.sign_in()
        first = cross.inpatient_episode(served.card("P01"), items("H50000000001", 3))
        home = local.inpatient_episode(served.card("P09"), items("H51010000001", 3))
        undone = cross.inpatient_episode(served.card("P07"), items("H50000000001", 2))
        cross.cancel_settlement(undone)
        httpx.post(
            f"{served.url}/admin/faults", headers=served.admin, json={"faults": ["drop-answer:2304*1"]}
        ).raise_for_status()
        retried = cross.inpatient_episode(
            served.card("P21"), items("H50000000001", 2)
        )  # reversed, settled again
    return db, [
        seen(first.replies[-1]),
        seen(home.replies[-1], cross=False),
        seen(next(r for r in undone.replies if r.infno == "2304"), cancelled=True),
        seen(retried.replies[-1]),
    ]


def test_the_books_of_a_real_run_pass_and_a_planted_loss_and_double_are_caught(
    run: tuple[str, list[Seen]],
) -> None:
    db, acknowledged = run
    assert check(acknowledged, ledger(db)) == []
    lost, doubled = acknowledged[0].setl_id, acknowledged[3].setl_id
    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(delete(hub_records).where(hub_records.c.setl_id == lost))
        row = conn.execute(
            select(insured_settlements).where(insured_settlements.c.setl_id == doubled)
        ).mappings()
        original = next(r for r in row if r["kind"] == "settle" and r["status"] == "active")
        conn.execute(insert(insured_settlements).values({**original, "msgid": "PLANTED-DOUBLE"}))
        conn.execute(visits.update().where(visits.c.state == "settled").values(state="settling"))
    engine.dispose()
    problems = check(acknowledged, ledger(db))
    assert f"结算丢失 lost: {lost} 在 hub 无记录，而医院已收到确认" in problems
    assert f"重复结算 paid twice: {doubled} 在 insured 记账2次" in problems
    assert any(p.startswith("半途 half-done") for p in problems)


def test_a_run_on_a_database_used_before_is_checked_on_its_own_settlements() -> None:
    earlier = Books(tuple(Entry(book, "S0", False, 500, 0) for book in ("treatment", "hub", "insured")))
    now = Books(earlier.entries + BOOKED)
    assert check([SEEN], now) != []  # S0, not acknowledged in this run, looks in force
    assert check([SEEN], now.after(earlier)) == []
