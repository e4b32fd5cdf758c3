"""Settlement (结算) cases against an insured-province platform: yidi relays, as the national hub, the
category totals (实时传大类) of stays in other provinces, and checks the benefits the platform pays."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ...actors.his import Reply
from ...specs.envelope import datetime_text
from ...specs.money import yuan
from ...world.topology import Topology
from ..cast import one_ratio, yearly_deductible
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import (
    accepted,
    added_by,
    clock,
    counters_are,
    deductible_once_a_year,
    fail,
    refused,
    running_totals,
    succeed,
)
from .client import Platform, Visit, admitted, ok

KEPT = ("medfee_sumamt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay")


def presettled(sut: Sut, hub: Callable[[str], Platform], person: str, hospital: str, **kw: Any) -> Visit:
    """Y1101 → Y2401 → Y2303 for a new stay; the pre-settlement changes nothing at the insured side."""
    relay = hub(hospital)
    visit = admitted(relay, sut.card(person), hospital, **kw)
    succeed(lambda: relay.presettle(visit))
    return visit


def pooled_ratio(visit: Visit) -> Decimal:
    """The ratio the pooled fund paid: hifp_pay ÷ (the in-policy amount − the deductible)."""
    s = visit.presettlement["setlinfo"]  # type: ignore[index]
    return Decimal(str(s["hifp_pay"])) / (Decimal(str(s["inscp_scp_amt"])) - Decimal(str(s["act_pay_dedc"])))


@case("JT-SET-101")
def test_the_deductible_once_a_year(sut: Sut, hub: Callable[[str], Platform], joint_case: Case) -> None:
    paid_up = sut.cast("P28", "H11000000001")
    for pair in ((joint_case.person, joint_case.hospital), paid_up):
        yearly_deductible(sut.world, *pair)
    first = presettled(sut, hub, joint_case.person, joint_case.hospital)  # no stay yet this year
    again = presettled(sut, hub, *paid_up)  # paid this year's tertiary deductible already
    deductible_once_a_year(
        "Y2303",
        (joint_case.person, first.presettlement["setlinfo"]),  # type: ignore[index]
        (paid_up[0], again.presettlement["setlinfo"]),  # type: ignore[index]
    )


@case("JT-SET-102")
def test_temporary_care_pays_a_lower_ratio(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    resident_pair = sut.cast("P02", "H33010000001")
    for pair in ((joint_case.person, joint_case.hospital), resident_pair):
        one_ratio(sut.world, *pair)
    temporary = pooled_ratio(presettled(sut, hub, joint_case.person, joint_case.hospital))  # fil_type 5
    resident = pooled_ratio(presettled(sut, hub, *resident_pair))  # fil_type 3: none off
    if not (resident - Decimal("0.20") - Decimal("0.001") <= temporary < resident - Decimal("0.001")):
        fail(
            f"{joint_case.person}临时外出就医的统筹支付比例应低于长期异地居住的{resident:.2f}，"
            f"且降低不超过20个百分点，实际{temporary:.4f}",
            rule="R-BEN-04",
            infno="Y2303",
            expected={"统筹支付比例": f"[{resident - Decimal('0.20'):.2f}, {resident:.2f})"},
            actual={"统筹支付比例": f"{temporary:.4f}"},
        )


@case("JT-SET-103")
def test_the_pooled_fund_stops_at_its_annual_cap(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    visit = presettled(sut, hub, joint_case.person, joint_case.hospital, lines=40)
    s = visit.presettlement["setlinfo"]  # type: ignore[index]
    left = cap_left(sut.world, joint_case.person, visit.insutype, int(str(s["setl_time"])[:4]))
    if Decimal(str(s["hifp_pay"])) > left:
        fail(
            f"{joint_case.person}本年统筹基金只余{left}元，统筹支付不得超过年度最高支付限额，"
            f"实际hifp_pay={s['hifp_pay']}",
            rule="R-BEN-03",
            infno="Y2303",
            expected={"hifp_pay": f"≤ {left}"},
            actual={"hifp_pay": s["hifp_pay"]},
        )
    if not s["hifob_pay"] > 0:
        fail(
            f"超过统筹年度限额的部分应由大额医疗费用补助支付，实际hifob_pay={s['hifob_pay']}",
            rule="R-BEN-03",
            infno="Y2303",
            expected={"hifob_pay": "> 0"},
            actual={"hifob_pay": s["hifob_pay"]},
        )


def cap_left(t: Topology, person: str, insutype: str, year: int) -> Decimal:
    """What the test data (the topology the insured platform was loaded with) leaves of the person's pooled
    inpatient cap this year."""
    p = t.person(person)
    assert p is not None, person
    cap = t.provinces[p.province].policies[insutype].on(date(year, 1, 1)).setting("inpatient").annual_cap
    assert cap is not None, f"{person}'s policy has no cap"
    return cap - Decimal(str(p.ytd.get(year, {}).get("pool", 0)))


@case("JT-SET-104")
def test_cancel_and_settle_again_for_the_same_amounts(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital)
    before = succeed(lambda: relay.settle(visit)).output["setlinfo"]
    succeed(lambda: relay.cancel(visit))
    again = succeed(lambda: relay.settle(visit))
    after = again.output["setlinfo"]
    changed = {k: (before[k], after[k]) for k in KEPT if before[k] != after[k]}
    if changed:
        fail(
            "撤销【Y2305】后再次结算，金额应与原结算一致（年度累计应回退）",
            rule="R-AMT-12",
            on=again,
            expected={k: v[0] for k, v in changed.items()},
            actual={k: v[1] for k, v in changed.items()},
        )


# ── JT-SET-105: one person's year through several stays, across 31 December ──


def begun(relay: Platform, sut: Sut, person: str, hospital: str, at: datetime) -> Visit:
    """Y1101 → Y2401 of a stay begun ``at`` (the SUT's simulated time)."""
    info = ok(relay.person_info(sut.card(person), "02", hospital))
    visit = replace(relay.visit(info.output, hospital), begntime=datetime_text(at))
    ok(relay.send(relay.admission(visit)))
    return visit


def totals_of(relay: Platform, visit: Visit, month: str) -> dict[str, Decimal]:
    reply = accepted(
        lambda: relay.checked(relay.totals(visit, month)),
        "R-QRY-04",
        f"查询{month[:4]}年度累计【Y5206】应成功",
    )
    return running_totals(reply)


def balance_of(relay: Platform, sut: Sut, person: str, hospital: str) -> Decimal:
    return yuan(ok(relay.person_info(sut.card(person), "02", hospital)).output["insuinfo"][0]["balc"])


@case("JT-SET-105")
def test_a_year_of_stays_across_new_year_with_a_cancellation_and_a_reversal(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    person, hospital = joint_case.person, joint_case.hospital
    relay = hub(hospital)
    year = (sut.world.clock or datetime.now()).year
    this, next_ = f"{year}12", f"{year + 1}01"
    with clock(sut) as move:
        move(f"{year}-12-31T10:00:00")
        first = begun(relay, sut, person, hospital, datetime(year, 12, 31, 8))
        before = {m: totals_of(relay, first, m) for m in (this, next_)}
        was = balance_of(relay, sut, person, hospital)
        succeed(lambda: relay.settle(first))
        succeed(lambda: relay.cancel(first))  # Y2305, then the same stay settled again
        a = succeed(lambda: relay.settle(first)).output
        move(f"{year}-12-31T22:00:00")
        second = begun(relay, sut, person, hospital, datetime(year, 12, 31, 22))
        move(f"{year + 1}-01-01T09:00:00")  # settled in the new year: it counts there
        omsgid = succeed(lambda: relay.settle(second)).msgid
        reversal = accepted(
            lambda: relay.checked(relay.reverse(second, omsgid, "Y2304")),
            "R-REV-01",
            f"冲正【Y2304】{omsgid}应成功",
        )
        paid = {"balc": was - yuan(a["setlinfo"]["acct_pay"])}
        now = {"balc": balance_of(relay, sut, person, hospital)}
        counters_are(f"冲正【Y2601】{omsgid}后个人账户余额", now, paid, reversal)
        counters_are(
            f"冲正后{year + 1}年度累计【Y5206】", totals_of(relay, first, next_), before[next_], reversal
        )
        last = succeed(lambda: relay.settle(second))
        for month, standing in ((this, a), (next_, last.output)):
            expected = {k: before[month].get(k, Decimal(0)) + v for k, v in added_by([standing]).items()}
            counters_are(f"{month[:4]}年度累计【Y5206】", totals_of(relay, first, month), expected, last)
        spent = yuan(a["setlinfo"]["acct_pay"]) + yuan(last.output["setlinfo"]["acct_pay"])
        now = {"balc": balance_of(relay, sut, person, hospital)}
        counters_are("个人账户余额【Y1101】", now, {"balc": was - spent}, last)


def year_so_far(relay: Platform, visit: Visit) -> dict[str, Decimal]:
    """The person's totals this year (Y5206 of this month), which must be answered."""
    reply = accepted(lambda: relay.checked(relay.totals(visit)), "R-QRY-04", "查询本年度累计【Y5206】应成功")
    return running_totals(reply)


def unchanged(what: str, before: Mapping[str, Decimal], after: Mapping[str, Decimal], on: Reply) -> None:
    """Every counter (or balance) as it was, none added either."""
    counters_are(what, after, {k: before.get(k, Decimal(0)) for k in {*before, *after}}, on)


@case("JT-SET-106")
def test_a_settled_visit_is_not_settled_again_under_a_new_msgid(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    person, hospital = joint_case.person, joint_case.hospital
    relay = hub(hospital)
    was = balance_of(relay, sut, person, hospital)
    visit = admitted(relay, sut.card(person), hospital)
    first = succeed(lambda: relay.settle(visit))
    before = year_so_far(relay, visit)
    again = refused(lambda: relay.settle(visit), "E4002", "R-LIFE-01")  # a new msgid and setl_id
    unchanged("被拒的再次结算【Y2304】之后，人员累计信息【Y5206】", before, year_so_far(relay, visit), again)
    paid = {"balc": was - yuan(first.output["setlinfo"]["acct_pay"])}
    counters_are(
        "被拒的再次结算之后，个人账户余额【Y1101】",
        {"balc": balance_of(relay, sut, person, hospital)},
        paid,
        again,
    )


@case("JT-SET-107")
def test_a_cancellation_naming_another_visit_is_refused(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    pairs = ((joint_case.person, joint_case.hospital), sut.cast("P13", "H11000000001"))
    relays = [hub(hospital) for _, hospital in pairs]
    visits = [admitted(relay, sut.card(p), h) for relay, (p, h) in zip(relays, pairs, strict=True)]
    for relay, visit in zip(relays, visits, strict=True):
        succeed(lambda: relay.settle(visit))  # noqa: B023 (called at once)
    before = [
        (year_so_far(r, v), balance_of(r, sut, *pair))
        for r, v, pair in zip(relays, visits, pairs, strict=True)
    ]
    # each settlement with the other visit's ID: of two IDs one is greater, so both ways are compared
    for relay, visit, other in ((relays[0], visits[0], visits[1]), (relays[1], visits[1], visits[0])):
        wrong = replace(visit, mdtrt_id=other.mdtrt_id)
        last = refused(lambda: relay.cancel(wrong), "E4005", "R-LIFE-01")  # noqa: B023
    for relay, visit, pair, (totals, balc) in zip(relays, visits, pairs, before, strict=True):
        unchanged(
            f"被拒的结算撤销【Y2305】之后，{pair[0]}的人员累计信息【Y5206】",
            totals,
            year_so_far(relay, visit),
            last,
        )
        unchanged(
            f"被拒的结算撤销之后，{pair[0]}的个人账户余额【Y1101】",
            {"balc": balc},
            {"balc": balance_of(relay, sut, *pair)},
            last,
        )
