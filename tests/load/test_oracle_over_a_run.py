"""The independent oracle recomputes every settlement of a load run (issue #19): each settlement and
cancellation the insured provinces booked, replayed person by person from the world's start, agrees to the
cent with what the reference simulators answered. A booking altered afterwards is found."""

from __future__ import annotations

import copy
import subprocess
import sys

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
    assert done.compared >= 40 and done.compared == len(bookings) - done.left_out
    assert {b["kind"] for b in bookings} == {"settle", "cancel"}  # the run cancelled some, too


def test_a_booking_answered_a_cent_wrong_is_found(bookings: list[dict[str, object]]) -> None:
    wrong = copy.deepcopy(bookings)
    answer = next(b for b in wrong if b["kind"] == "settle")["answer"]
    answer["setlinfo"]["psn_cash_pay"] = round(answer["setlinfo"]["psn_cash_pay"] + 0.01, 2)  # type: ignore[index]
    assert [p for p in replay(wrong, topology.load()).problems if "psn_cash_pay" in p]
