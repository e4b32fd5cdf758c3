"""Settlement (结算) cases against an insured-province platform: yidi relays, as the national hub, the
category totals (实时传大类) of stays in other provinces, and checks the benefits the platform pays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from ...world.topology import Topology
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import deductible_once_a_year, fail, succeed
from .client import Platform, Visit, admitted

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
    first = presettled(sut, hub, joint_case.person, joint_case.hospital)  # no stay yet this year
    paid_up = sut.cast("P28", "H11000000001")
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
    temporary = pooled_ratio(presettled(sut, hub, joint_case.person, joint_case.hospital))  # fil_type 5
    resident = pooled_ratio(presettled(sut, hub, *sut.cast("P02", "H33010000001")))  # fil_type 3: none off
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
