"""Money between provinces at the hub (simulators/clearing.py, Y3201–Y3204) over real HTTP: every
cross-province settlement draws on the insured province's prepayment fund, the month's statements sum what
each owes each, confirming pays and restores the fund; cancellations and reversals land in the right month;
low funds raise alerts; and a planted discrepancy of each kind is found and named (R-CLR-01..03)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from yidi.actors.desks import Desk
from yidi.actors.his import Episode, His, Refused
from yidi.cli import app
from yidi.simulators import clearing
from yidi.simulators.app import Options
from yidi.simulators.background import serving
from yidi.simulators.store import (
    clearings,
    hub_records,
    prepayment_alerts,
    prepayment_moves,
    prepayments,
)
from yidi.specs.money import cents
from yidi.world import topology

from .conftest import Served
from .test_episodes import admitted

NOVEMBER, DECEMBER = "202611", "202612"
# crowd persons (insured in one province, filed for the next) and a hospital where they are filed
SICHUAN_IN_CHONGQING = [("L00001", "H50000000001"), ("L00002", "H50000000002")]
CHONGQING_IN_SHAANXI = ("L00003", "H61010000001")


@pytest.fixture
def desks(served: Served) -> Iterator[dict[str, Desk]]:
    roster = served.roster
    with httpx.Client() as http:
        yield {p["admdvs"]: Desk.of(served.sim.wire, roster, p, http) for p in roster["provinces"]}


def stay(served: Served, person: str, hospital: str) -> tuple[His, Episode]:
    """A settled cross-province stay with a bill well above the deductible."""
    his, episode = admitted(
        served, person, hospital, extra=served.items(hospital[1:3] + "0000", 6, quantity=30)
    )
    his.settle(episode)
    return his, episode


def fund(episode: Episode) -> int:
    return cents(episode.settlement["setlinfo"]["fund_pay_sumamt"])  # type: ignore[index]


def move_clock(served: Served, when: str) -> None:
    httpx.post(f"{served.url}/admin/clock", headers=served.admin, json={"set": when}).raise_for_status()


def balances(served: Served) -> dict[tuple[str, str], tuple[int, int]]:
    with served.sim.store.begin() as conn:
        rows = conn.execute(select(prepayments)).mappings()
        return {(r["insured"], r["treatment"]): (r["size"], r["balance"]) for r in rows}


def statement(rows: list[dict[str, Any]], insured: str, treatment: str) -> dict[str, Any]:
    return next(s for s in rows if s["insuplc_admdvs"] == insured and s["mdtrtarea_admdvs"] == treatment)


def problems(served: Served, *months: str) -> list[str]:
    with served.sim.store.begin() as conn:
        return clearing.check(conn, months)


def test_a_month_is_drawn_stated_confirmed_and_restored_to_the_cent(
    served: Served, desks: dict[str, Desk]
) -> None:
    opened = balances(served)
    episodes = [stay(served, p, h)[1] for p, h in SICHUAN_IN_CHONGQING]
    his, cancelled = stay(served, *CHONGQING_IN_SHAANXI)
    his.cancel_settlement(cancelled)
    drawn = sum(fund(e) for e in episodes)
    assert drawn > 0
    size, balance = balances(served)[("510000", "500000")]
    assert balance == opened[("510000", "500000")][1] - drawn  # every settlement drew on its fund
    assert (
        balances(served)[("500000", "610000")] == opened[("500000", "610000")]
    )  # a cancellation puts it back

    with pytest.raises(Refused, match="E7001"):  # November is not over
        desks["510000"].statements(NOVEMBER)
    move_clock(served, "2026-12-01T00:00:05")
    rows = desks["500000"].statements(NOVEMBER)  # the treatment province sees what it is owed
    owed = statement(rows, "510000", "500000")
    assert (owed["setl_cnt"], cents(owed["clr_amt"]), owed["clr_stas"]) == (2, drawn, "1")
    assert cents(statement(rows, "500000", "610000")["clr_amt"]) == 0  # settled and cancelled: nets out

    paid = desks["510000"].confirm(NOVEMBER)
    assert {s["clr_stas"] for s in paid} == {"2"} and sum(cents(s["clr_amt"]) for s in paid) == drawn
    assert balances(served)[("510000", "500000")] == (size, size)  # the payment restored the fund
    with pytest.raises(Refused, match="E7002"):  # a statement is paid once
        desks["510000"].confirm(NOVEMBER)
    for admdvs, desk in desks.items():
        if admdvs != "510000":
            desk.confirm(NOVEMBER)
    assert {s["clr_stas"] for s in desks["610000"].statements(NOVEMBER)} == {"2"}
    assert problems(served, NOVEMBER) == []


def test_a_cancellation_and_a_reversal_after_the_month_land_in_the_next_month(
    served: Served, desks: dict[str, Desk]
) -> None:
    his, november = stay(served, *SICHUAN_IN_CHONGQING[0])
    his2, reversed_later = stay(served, *SICHUAN_IN_CHONGQING[1])
    move_clock(served, "2026-12-02T09:00:00")
    desks["510000"].statements(NOVEMBER)  # November issued: both settlements counted in it
    his.cancel_settlement(november)  # in December
    his2.reverse(reversed_later, str(reversed_later.settle_msgid), "2304")  # in December, after issue
    move_clock(served, "2027-01-01T00:00:05")
    nov = statement(desks["510000"].statements(NOVEMBER), "510000", "500000")
    dec = statement(desks["510000"].statements(DECEMBER), "510000", "500000")
    assert cents(nov["clr_amt"]) == fund(november) + fund(reversed_later) and nov["setl_cnt"] == 2
    assert cents(dec["clr_amt"]) == -(fund(november) + fund(reversed_later)) and dec["setl_cnt"] == 0
    desks["510000"].confirm(NOVEMBER), desks["510000"].confirm(DECEMBER)
    size, balance = balances(served)[("510000", "500000")]
    assert balance == size  # drawn twice, given back twice, November paid, December refunded
    assert problems(served, NOVEMBER, DECEMBER) == []


@pytest.fixture
def small_funds(tmp_path: Path) -> Iterator[Served]:
    """A topology whose every fund is 1,000 yuan: the first stay uses one up."""
    text = topology.default_path().read_text(encoding="utf-8")
    small = tmp_path / "small-funds.yaml"
    small.write_text(
        re.sub(r"(?m)^prepayment: .*$", "prepayment: {per_person: 0, minimum: 1000}", text), "utf-8"
    )
    with serving(Options(world=small, db=f"sqlite:///{tmp_path / 'small.db'}")) as handle:
        yield handle


def test_a_fund_used_up_mid_month_raises_alerts_and_a_top_up_restores_it(small_funds: Served) -> None:
    served, roster = small_funds, small_funds.roster
    with httpx.Client() as http:
        sichuan = Desk.of(
            served.sim.wire, roster, next(p for p in roster["provinces"] if p["admdvs"] == "510000"), http
        )
        _, episode = stay(served, *SICHUAN_IN_CHONGQING[0])
        assert episode.settlement  # settlement goes on: the treatment province fronts the money
        (mine,) = [f for f in sichuan.funds() if f["mdtrtarea_admdvs"] == "500000"]
        assert mine["prepay_alert_lv"] == "3" and mine["balc"] < 0
        with served.sim.store.begin() as conn:
            alerts = conn.execute(select(prepayment_alerts.c.level, prepayment_alerts.c.reason)).all()
        assert [a.level for a in alerts] == ["exhausted"] and "用尽" in alerts[0].reason
        topped = sichuan.top_up("500000", fund(episode) / 100 + 1000)
        assert topped["balc"] == pytest.approx(1000 + 1000) and topped["prepay_alert_lv"] == "0"
        with pytest.raises(Refused, match="E7004"):
            sichuan.top_up("500000", 0)
    assert problems(served) == []


def test_a_province_that_does_not_confirm_leaves_its_statements_issued_and_its_fund_drawn(
    served: Served, desks: dict[str, Desk]
) -> None:
    _, episode = stay(served, *SICHUAN_IN_CHONGQING[0])
    move_clock(served, "2026-12-01T00:00:05")
    desks["500000"].confirm(NOVEMBER)  # another province pays; Sichuan does not
    owed = statement(desks["500000"].statements(NOVEMBER), "510000", "500000")
    assert owed["clr_stas"] == "1" and cents(owed["clr_amt"]) == fund(episode)
    size, balance = balances(served)[("510000", "500000")]
    assert balance == size - fund(episode)


@pytest.fixture
def cleared(served: Served, desks: dict[str, Desk]) -> Served:
    for person, hospital in (*SICHUAN_IN_CHONGQING, CHONGQING_IN_SHAANXI):
        stay(served, person, hospital)
    move_clock(served, "2026-12-01T00:00:05")
    for desk in desks.values():
        desk.confirm(NOVEMBER)
    assert problems(served, NOVEMBER) == []
    return served


def test_a_statement_that_does_not_add_up_is_named(cleared: Served) -> None:
    with cleared.sim.store.begin() as conn:
        conn.execute(
            update(clearings)
            .where(clearings.c.insured == "510000", clearings.c.treatment == "500000")
            .values(amount=clearings.c.amount + 1)
        )
    (problem,) = problems(cleared, NOVEMBER)
    assert problem.startswith("清算不平 202611") and "计入的国家记录" in problem


def test_a_settlement_left_out_of_its_month_is_named(cleared: Served) -> None:
    with cleared.sim.store.begin() as conn:
        setl_id = conn.execute(select(hub_records.c.setl_id).limit(1)).scalar_one()
        conn.execute(update(hub_records).where(hub_records.c.setl_id == setl_id).values(month=None))
    found = problems(cleared, NOVEMBER)
    assert f"漏清算 202611: 结算{setl_id}未计入任何清算月" in found


def test_a_fund_moved_without_a_record_is_named(cleared: Served) -> None:
    with cleared.sim.store.begin() as conn:
        conn.execute(
            update(prepayments)
            .where(prepayments.c.insured == "500000", prepayments.c.treatment == "610000")
            .values(balance=prepayments.c.balance - 100)
        )
    (problem,) = problems(cleared)
    assert problem.startswith("预付金不符 500000→610000")


def test_a_settlement_that_did_not_draw_on_its_fund_is_named(cleared: Served) -> None:
    """As if the hub had booked a settlement without drawing on the fund: the moves still add up to the
    balance, but not to what the national records say was paid."""
    with cleared.sim.store.begin() as conn:
        move = (
            conn.execute(select(prepayment_moves).where(prepayment_moves.c.kind == "settle").limit(1))
            .mappings()
            .one()
        )
        conn.execute(delete(prepayment_moves).where(prepayment_moves.c.id == move["id"]))
        conn.execute(
            update(prepayments)
            .where(prepayments.c.insured == move["insured"], prepayments.c.treatment == move["treatment"])
            .values(balance=prepayments.c.balance - move["amount"])
        )
    (problem,) = problems(cleared)
    assert problem.startswith(f"预付金动用不符 {move['insured']}→{move['treatment']}")


def test_a_month_never_issued_is_named(served: Served) -> None:
    assert problems(served, "202610") == ["未清算 202610: 无清算单"]


def test_yidi_clear_after_days_of_load_balances_to_the_cent_and_a_withheld_province_leaves_it_pending(
    tmp_path: Path,
) -> None:
    """What a test team runs: a load run a day on one database, then month-end clearing on it. The month's
    statements are exactly what the load users saw acknowledged: every settlement, net of cancellations."""
    yidi, db = [sys.executable, "-m", "yidi"], f"sqlite:///{tmp_path / 'month.db'}"
    seen: list[dict[str, Any]] = []
    for day in ("2026-11-02T09:00:00", "2026-11-03T09:00:00"):
        out = tmp_path / day[:10]
        loaded = subprocess.run(
            [*yidi, "load", "--shape", "flat", "--rate", "3", "--duration", "5", "--db", db, "--clock", day,
             "--out", str(out)],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stdout[-2000:]
        seen += [
            json.loads(line) for f in out.glob("acknowledged-*.jsonl") for line in f.read_text().splitlines()
        ]
    clear = [*yidi, "clear", "--month", NOVEMBER, "--db", db]
    withheld = subprocess.run(
        [*clear, "--withhold", "510000", "--out", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert withheld.returncode == 2 and "待确认 pending" in withheld.stdout, withheld.stdout[-2000:]
    done = subprocess.run([*clear, "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and "平账 balanced" in done.stdout, done.stdout[-2000:]
    month = json.loads((tmp_path / "b" / "clearing.json").read_text(encoding="utf-8"))
    cross = [s for s in seen if s["cross"]]
    assert sum(s["settlements"] for s in month["statements"]) == len(cross) > 0
    assert round(sum(s["amount"] for s in month["statements"]) * 100) == sum(
        s["fund"] for s in cross if not s["cancelled"]
    )
    assert {s["state"] for s in month["statements"]} == {"confirmed"} and month["problems"] == []
    html = (tmp_path / "b" / "clearing.html").read_text(encoding="utf-8")
    assert "清算矩阵" in html and "预付金余额走势" in html


def test_yidi_clear_of_a_hub_by_url_reports_its_refusal_then_clears_once_the_month_is_over(
    served: Served, tmp_path: Path
) -> None:
    stay(served, *SICHUAN_IN_CHONGQING[0])
    clear = ["clear", "--month", NOVEMBER, "--sut", served.url, "--out", str(tmp_path)]
    locked = CliRunner().invoke(app, clear)  # the roster's secrets are behind the admin credential
    assert locked.exit_code == 2 and "401" in locked.output and "--admin-token" in locked.output
    clear += ["--admin-token", served.sim.admin_token]
    early = CliRunner().invoke(app, clear)
    assert early.exit_code == 1 and "E7001" in early.output  # its month is not over: said, not a traceback
    move_clock(served, "2026-12-01T00:00:05")
    done = CliRunner().invoke(app, clear)
    assert done.exit_code == 0 and "平账 balanced" in done.output, done.output
    month = json.loads((tmp_path / "clearing.json").read_text(encoding="utf-8"))
    assert sum(s["settlements"] for s in month["statements"]) == 1
