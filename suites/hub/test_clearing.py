"""Clearing (清算) cases against the national hub: settlements through it draw on the insured province's
prepayment fund, the month's statements sum them net of cancellations, and a confirmed statement is paid once.

Each case settles in a month of its own and closes it by moving the SUT's simulated clock; the clock is put
back afterwards, so the other cases go on in their own month.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ...actors.desks import Desk
from ...specs.money import yuan
from ..catalogue import Case
from ..insured.client import Platform, Visit, admitted, ok
from ..plugin import Sut, case
from ..steps import accepted, fail, injectable, refused
from ..steps import clock as pinned

MONTHS = {
    "JT-CLR-201": "202702",
    "JT-CLR-202": "202704",
    "JT-CLR-203": "202707",
    "JT-CLR-204": "202709",
    "JT-CLR-205": "202711",
    "JT-CLR-206": "202712",  # the year's last second: its statement is cleared in the next year
    "JT-CLR-207": "202705",
}
Month = tuple[str, Callable[[str], None]]  # a case's month, and how to move the SUT's clock on
SECOND = {"L00022": "L00043", "L00029": "L00050"}  # the other Sichuan person of the two-stay cases


@contextmanager
def clock(sut: Sut) -> Iterator[Callable[[str], None]]:
    """``move(when)`` moves the SUT's simulated clock; afterwards it is put back by as much."""
    admin = f"{injectable(sut)}/admin/clock"
    moved = 0.0

    def move(when: str) -> None:
        nonlocal moved
        now = datetime.fromisoformat(httpx.get(admin, headers=sut.admin).raise_for_status().json()["now"])
        step = (datetime.fromisoformat(when) - now).total_seconds()
        httpx.post(admin, json={"advance_seconds": step}, headers=sut.admin).raise_for_status()
        moved += step

    try:
        yield move
    finally:
        httpx.post(admin, json={"advance_seconds": -moved}, headers=sut.admin).raise_for_status()


@pytest.fixture
def desks(sut: Sut) -> Iterator[dict[str, Desk]]:
    """yidi as each province's platform at the hub under test (their clearing desks)."""
    with httpx.Client(timeout=60) as http:
        yield {p["admdvs"]: Desk.of(sut.spec, sut.roster, p, http) for p in sut.roster["provinces"]}


@pytest.fixture
def sichuan(desks: dict[str, Desk]) -> Desk:
    """Sichuan, the insured province of the cases' persons."""
    return desks["510000"]


def stay(platform: Platform, sut: Sut, person: str, code: str) -> tuple[Visit, Decimal]:
    """A cross-province settlement through the hub; its fund payment."""
    visit = admitted(platform, sut.card(person), code)
    settled = ok(platform.settle(visit))
    return visit, yuan(settled.output["setlinfo"]["fund_pay_sumamt"])


def fund_at(desk: Desk, treatment: str) -> dict[str, Any]:
    """【Y3204】 the desk's province's fund at a treatment province."""
    funds = accepted(desk.funds, "R-CLR-03", "查询预付金应成功")
    return next(f for f in funds if f["insuplc_admdvs"] == desk.admdvs and f["mdtrtarea_admdvs"] == treatment)


def balance(desk: Desk, treatment: str) -> Decimal:
    return yuan(fund_at(desk, treatment)["balc"])


def statements(desk: Desk, month: str) -> list[dict[str, Any]]:
    """【Y3201】 the month's statements as ``desk``'s province sees them."""
    return accepted(lambda: desk.statements(month), "R-CLR-01", "月末后查询清算单应成功")


def statement(desk: Desk, month: str, insured: str, treatment: str = "500000") -> dict[str, Any]:
    """The month's statement of one pair, as ``desk``'s province sees it."""
    rows = statements(desk, month)
    return next(s for s in rows if s["insuplc_admdvs"] == insured and s["mdtrtarea_admdvs"] == treatment)


def confirm(desk: Desk, month: str) -> None:
    accepted(lambda: desk.confirm(month), "R-CLR-02", "参保地确认拨付本月清算单应成功")


def expect(what: str, expected: Any, actual: Any, rule: str, infno: str) -> None:
    """``actual`` (what the hub's ``infno`` answered) is ``expected``, as ``rule`` says."""
    if expected != actual:
        fail(
            f"{what}：应为{expected}，实际{actual}",
            rule=rule,
            infno=infno,
            expected=str(expected),
            actual=str(actual),
        )


def first_day(month: str, day: int = 1) -> str:
    return f"{month[:4]}-{month[4:]}-{day:02d}T10:00:00"


def month_end(month: str) -> date:
    """The first day after ``month`` (YYYYMM), by the calendar (not the hub's code: an expectation)."""
    year, mon = int(month[:4]), int(month[4:])
    return date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)


def next_month(month: str) -> str:
    return f"{month_end(month):%Y%m}"


@pytest.fixture
def month(sut: Sut, joint_case: Case) -> Iterator[Month]:
    """The case's own month, the SUT's clock moved to its 10th, and ``move`` to move it on; put back after."""
    with clock(sut) as move:
        move(first_day(MONTHS[joint_case.id], 10))
        yield MONTHS[joint_case.id], move


@case("JT-CLR-201")
def test_the_statement_is_the_months_net_and_paying_it_restores_the_fund(
    sut: Sut,
    province: Callable[[str], Platform],
    desks: dict[str, Desk],
    sichuan: Desk,
    joint_case: Case,
    month: Month,
) -> None:
    (the_month, move), code = month, joint_case.hospital
    before = balance(sichuan, "500000")
    platform = province(code)
    _, kept = stay(platform, sut, joint_case.person, code)
    cancelled, refunded = stay(platform, sut, SECOND[joint_case.person], code)
    ok(platform.cancel(cancelled))
    expect(
        "四川在重庆的预付金应减少两次结算的基金支付净额",
        before - kept,
        balance(sichuan, "500000"),
        "R-CLR-03",
        "Y3204",
    )
    move(first_day(next_month(the_month)))
    owed = statement(sichuan, the_month, "510000")
    expect(f"{the_month}四川→重庆清算单的结算笔数", 2, int(owed["setl_cnt"]), "R-CLR-01", "Y3201")
    expect(f"{the_month}四川→重庆清算单金额=结算减撤销", kept, yuan(owed["clr_amt"]), "R-CLR-01", "Y3201")
    for desk in desks.values():  # a statement is its two provinces' business: no other sees it
        if desk.admdvs not in ("510000", "500000"):
            pairs = [(s["insuplc_admdvs"], s["mdtrtarea_admdvs"]) for s in statements(desk, the_month)]
            seen = ["→".join(pair) for pair in pairs if desk.admdvs not in pair]
            expect(f"{desk.admdvs}查询{the_month}清算单，应只见与本省有关的", [], seen, "R-CLR-01", "Y3201")
    for desk in desks.values():  # a fund too: its insured and its treatment province see it, no other
        funds = accepted(desk.funds, "R-CLR-03", "查询预付金应成功")
        held_by = {(f["insuplc_admdvs"], f["mdtrtarea_admdvs"]): f for f in funds}
        alien = ["→".join(pair) for pair in held_by if desk.admdvs not in pair]
        expect(f"{desk.admdvs}查询预付金【Y3204】，应只见与本省有关的", [], alien, "R-CLR-03", "Y3204")
        if desk.admdvs == "500000":  # the treatment province sees the funds others hold at it
            held = held_by.get(("510000", "500000"))
            found = yuan(held["balc"]) if held else None
            expect("重庆（就医地）所见四川在重庆的预付金余额", before - kept, found, "R-CLR-03", "Y3204")
    confirm(sichuan, the_month)
    paid = statement(sichuan, the_month, "510000")["clr_stas"]
    expect("确认拨付后清算单状态", "2", paid, "R-CLR-02", "Y3201")
    expect("拨付后预付金恢复到结算前", before, balance(sichuan, "500000"), "R-CLR-03", "Y3204")
    assert refunded > 0


@case("JT-CLR-202")
def test_a_cancellation_and_a_reversal_after_the_statement_land_in_the_next_month(
    sut: Sut, province: Callable[[str], Platform], sichuan: Desk, joint_case: Case, month: Month
) -> None:
    (the_month, move), code = month, joint_case.hospital
    later = next_month(the_month)
    platform = province(code)
    cancelled, one = stay(platform, sut, joint_case.person, code)
    reversed_, other = stay(platform, sut, SECOND[joint_case.person], code)
    move(first_day(later, 2))
    issued = yuan(statement(sichuan, the_month, "510000")["clr_amt"])
    expect(f"{the_month}清算单金额", one + other, issued, "R-CLR-01", "Y3201")
    ok(platform.cancel(cancelled))
    ok(platform.reverse(reversed_, str(reversed_.settle_msgid), "Y2304"))
    move(first_day(next_month(later)))
    unchanged = yuan(statement(sichuan, the_month, "510000")["clr_amt"])
    expect(f"{the_month}清算单出单后不变", one + other, unchanged, "R-CLR-02", "Y3201")
    refund = yuan(statement(sichuan, later, "510000")["clr_amt"])
    expect(f"{later}清算单计入上月结算的撤销与冲正", -(one + other), refund, "R-CLR-02", "Y3201")


@case("JT-CLR-203")
def test_a_statement_is_paid_once(
    sut: Sut, province: Callable[[str], Platform], sichuan: Desk, joint_case: Case, month: Month
) -> None:
    (the_month, move), code = month, joint_case.hospital
    before = balance(sichuan, "500000")
    stay(province(code), sut, joint_case.person, code)
    move(first_day(next_month(the_month)))
    confirm(sichuan, the_month)
    refused(lambda: sichuan.client.call("Y3202", {"data": {"setlym": the_month}}), "E7002", "R-CLR-02")
    expect("预付金只恢复一次，等于结算前", before, balance(sichuan, "500000"), "R-CLR-03", "Y3204")


@case("JT-CLR-204")
def test_a_statement_not_confirmed_by_its_payer_stays_unpaid(
    sut: Sut, province: Callable[[str], Platform], desks: dict[str, Desk], joint_case: Case, month: Month
) -> None:
    (the_month, move), code, sichuan, chongqing = month, joint_case.hospital, desks["510000"], desks["500000"]
    stay(province(code), sut, joint_case.person, code)
    drawn = balance(sichuan, "500000")
    move(first_day(next_month(the_month)))
    confirm(chongqing, the_month)  # Chongqing pays what it owes; Sichuan says nothing
    owed = statement(chongqing, the_month, "510000")
    expect(f"{the_month}四川→重庆清算单在四川确认前应为已出单", "1", owed["clr_stas"], "R-CLR-02", "Y3201")
    expect("四川未确认，其在重庆的预付金不应恢复", drawn, balance(sichuan, "500000"), "R-CLR-03", "Y3204")


@case("JT-CLR-205")
def test_a_fund_used_up_mid_month_alerts_and_a_top_up_restores_it(
    sut: Sut, province: Callable[[str], Platform], sichuan: Desk, joint_case: Case, month: Month
) -> None:
    code, admin = joint_case.hospital, f"{injectable(sut)}/admin/prepayment"
    size = fund_at(sichuan, "500000")["prepay_amt"]
    resize = {"insured": "510000", "treatment": "500000", "size": 1000}
    httpx.post(admin, json=resize, headers=sut.admin).raise_for_status()
    try:
        start = balance(sichuan, "500000")  # what is left of 1,000 yuan after the month's earlier stays
        _, fund = stay(province(code), sut, joint_case.person, code)  # settlement goes on
        now = fund_at(sichuan, "500000")
        expect("预付金用尽后的余额", start - fund, yuan(now["balc"]), "R-CLR-03", "Y3204")
        expect("预付金用尽后的预警级别", "3", now["prepay_alert_lv"], "R-CLR-03", "Y3204")
        topped = sichuan.top_up("500000", float(fund + yuan(1000) - start))  # back to the whole 1,000
        expect("补足后的预警级别", "0", topped["prepay_alert_lv"], "R-CLR-03", "Y3203")
        # the answer is Sichuan's fund at Chongqing, at the whole 1,000 again
        answered = (topped["insuplc_admdvs"], topped["mdtrtarea_admdvs"], yuan(topped["balc"]))
        expect(
            "补足应答的预付金（参保地、就医地、余额）",
            ("510000", "500000", yuan(1000)),
            answered,
            "R-CLR-03",
            "Y3203",
        )
        topped_up = balance(sichuan, "500000")
        expect("补足后查询的预付金余额", yuan(1000), topped_up, "R-CLR-03", "Y3204")
        refused(lambda: sichuan.top_up("500000", -100.0), "E7004", "R-CLR-03")  # a top-up takes money back?
        expect("负数补足应被拒绝，预付金不变", topped_up, balance(sichuan, "500000"), "R-CLR-03", "Y3203")
    finally:
        resize = {"insured": "510000", "treatment": "500000", "size": size}
        httpx.post(admin, json=resize, headers=sut.admin).raise_for_status()


@case("JT-CLR-206")
def test_a_reversal_puts_the_draw_back_and_the_last_second_is_cleared_in_its_month(
    sut: Sut, province: Callable[[str], Platform], sichuan: Desk, joint_case: Case, month: Month
) -> None:
    (the_month, move), code = month, joint_case.hospital
    before = balance(sichuan, "500000")
    platform = province(code)
    visit, _ = stay(platform, sut, joint_case.person, code)
    omsgid = str(visit.settle_msgid)
    ok(platform.reverse(visit, omsgid, "Y2304"))
    expect(
        f"冲正【Y2601】{omsgid}后四川在重庆的预付金应退回该笔支付",
        before,
        balance(sichuan, "500000"),
        "R-CLR-03",
        "Y3204",
    )
    end = month_end(the_month) - timedelta(days=1)  # the month's last day
    with pinned(sut) as pin:  # the clock stopped in the month's very last second
        pin(f"{end:%Y-%m-%d}T23:59:59.500", freeze=True)
        last = yuan(ok(platform.settle(visit)).output["setlinfo"]["fund_pay_sumamt"])
    expect("月末最后一秒再次结算后的预付金", before - last, balance(sichuan, "500000"), "R-CLR-03", "Y3204")
    move(first_day(next_month(the_month)))
    owed = statement(sichuan, the_month, "510000")
    counted = (int(owed["setl_cnt"]), yuan(owed["clr_amt"]))
    expect(
        f"{the_month}四川→重庆清算单（笔数，金额）：冲正的不计，月末最后一秒的计入",
        (1, last),
        counted,
        "R-CLR-02",
        "Y3201",
    )


@case("JT-CLR-207")
def test_a_fund_used_up_to_a_threshold_alerts_at_that_level(
    sut: Sut, province: Callable[[str], Platform], sichuan: Desk, joint_case: Case, month: Month
) -> None:
    code, admin = joint_case.hospital, f"{injectable(sut)}/admin/prepayment"
    # the shares of the world (the commonly cited 70 % and 90 % when it names none)
    warn_at = Decimal(str(sut.world.prepayment.get("warn_at", 0.70)))
    urgent_at = Decimal(str(sut.world.prepayment.get("urgent_at", 0.90)))
    size = fund_at(sichuan, "500000")["prepay_amt"]
    stay(province(code), sut, joint_case.person, code)  # something is drawn
    now = fund_at(sichuan, "500000")
    drawn = yuan(now["prepay_amt"]) - yuan(now["balc"])
    whole = int(drawn / urgent_at)  # a size (whole yuan) of which the drawn money is at least 90 %
    expect(f"一次结算动用预付金{drawn}元（至少0.90元才能构造阈值）", True, whole >= 1, "R-CLR-03", "Y3204")
    resize = {"insured": "510000", "treatment": "500000", "size": whole}
    httpx.post(admin, json=resize, headers=sut.admin).raise_for_status()
    try:
        cent = Decimal("0.01")
        for share, at, below in ((urgent_at, "2", "1"), (warn_at, "1", "0")):
            target = yuan(whole * share)  # the money drawn at exactly the share (to the cent)
            used = yuan(whole) - balance(sichuan, "500000")
            if used > target:  # top up down to exactly the share
                level = sichuan.top_up("500000", float(used - target))["prepay_alert_lv"]
            else:
                level = fund_at(sichuan, "500000")["prepay_alert_lv"]
            expect(
                f"额度{whole}元、恰好动用{share:.0%}（{target}元）时的预警级别",
                at,
                level,
                "R-CLR-03",
                "Y3203",
            )
            level = sichuan.top_up("500000", float(cent))["prepay_alert_lv"]
            expect(f"动用比{share:.0%}少1分时的预警级别", below, level, "R-CLR-03", "Y3203")
    finally:
        resize = {"insured": "510000", "treatment": "500000", "size": size}
        httpx.post(admin, json=resize, headers=sut.admin).raise_for_status()
