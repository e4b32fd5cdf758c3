"""The independent oracle recomputes every settlement of a load run (issue #19): each settlement, cancellation
and reversal the insured provinces booked, replayed person by person from the world's start in the order
booked, agrees to the cent with what the reference simulators answered. A booking altered afterwards is
found, and a reversal is replayed where it came."""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import timedelta

import pytest

from yidi.simulators.books import insured_bookings
from yidi.suites.oracle import replay
from yidi.world import topology


@pytest.fixture(scope="module")
def bookings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    out = tmp_path_factory.mktemp("load")
    db = f"sqlite:///{out / 'state.db'}"
    load = [sys.executable, "-m", "yidi", "load", "--shape", "flat", "--rate", "6", "--duration", "12"]
    done = subprocess.run([*load, "--db", db, "--out", str(out)], capture_output=True, text=True, timeout=240)
    assert "账本一致 ledger OK" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    return insured_bookings(db)


def test_the_oracle_agrees_with_every_settlement_of_a_load_run(bookings: list[dict[str, object]]) -> None:
    done = replay(bookings, topology.load())
    assert done.problems == []
    assert done.compared >= 40 and done.compared == len(bookings) - done.left_out - done.reversed
    assert {"settle", "cancel"} <= {b["kind"] for b in bookings}  # the run cancelled some, too
    assert done.reversed == sum(b["kind"] == "reverse" for b in bookings)


def test_a_booking_answered_a_cent_wrong_is_found(bookings: list[dict[str, object]]) -> None:
    wrong = copy.deepcopy(bookings)
    answer = next(b for b in wrong if b["kind"] == "settle")["answer"]
    answer["setlinfo"]["psn_cash_pay"] = round(answer["setlinfo"]["psn_cash_pay"] + 0.01, 2)  # type: ignore[index]
    assert [p for p in replay(wrong, topology.load()).problems if "psn_cash_pay" in p]


def test_a_reversal_is_replayed_where_it_came(bookings: list[dict[str, object]]) -> None:
    """The same stay settled twice by one person: the second pays no deductible again, unless the first was
    reversed before it (R-AMT-12: a reversal rolls the year's usage back)."""
    first = next(
        b
        for b in bookings
        if b["kind"] == "settle" and b["status"] == "active" and b["answer"]["setlinfo"]["act_pay_dedc"] > 0  # type: ignore[index]
    )
    again = copy.deepcopy(first) | {"msgid": f"{first['msgid']}-2", "setl_id": f"{first['setl_id']}-2"}
    again["sim_time"] = first["sim_time"] + timedelta(minutes=2)  # type: ignore[operator]
    reverse = {"msgid": "R1", "kind": "reverse", "psn_no": first["psn_no"], "of": first["msgid"]}
    reverse |= {"setl_id": first["setl_id"], "sim_time": first["sim_time"] + timedelta(minutes=1)}  # type: ignore[operator]
    mine = [b for b in bookings if b["psn_no"] == first["psn_no"] and b["msgid"] == first["msgid"]]

    unreversed = replay([*mine, again], topology.load())
    assert [p for p in unreversed.problems if "act_pay_dedc" in p]  # the deductible was paid already
    reversed_ = replay([*mine, reverse, again], topology.load())
    assert reversed_.problems == [] and reversed_.reversed == 1
