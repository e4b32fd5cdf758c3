"""Query (查询) cases against an insured-province platform, yidi relaying as the national hub: who a
credential names (Y1101) and a person's running totals for the year (Y5206), inpatient and outpatient."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from decimal import Decimal

from ...actors.his import Refused
from ...specs.money import ZERO, yuan
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import fail, running_totals, totals_follow
from .client import Platform, admitted, ok

CREDENTIALS = {"01": "医保电子凭证", "02": "身份证号", "03": "社保卡"}


@case("JT-QRY-101")
def test_person_info_names_the_card_holder_and_their_filings(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay, card, person = (
        hub(joint_case.hospital),
        sut.card(joint_case.person),
        sut.person(joint_case.person),
    )
    holder = {
        "psn_no": person["psn_no"],
        "certno": person["certno"],
        "psn_name": person["name"],
        "insuplc_admdvs": person["insuplc_admdvs"],
    }
    filed = [
        (f["fil_type"], f["mdtrtarea"], f["begndate"], f["enddate"])
        for f in person["filings"]
        if f["status"] == "1"
    ]
    for cert_type, name in CREDENTIALS.items():
        reply = ok(relay.person_info(card, cert_type, joint_case.hospital))
        base, insu = reply.output["baseinfo"], reply.output["insuinfo"][0]
        answered = {
            **{k: base[k] for k in ("psn_no", "certno", "psn_name")},
            "insuplc_admdvs": insu["insuplc_admdvs"],
        }
        if answered != holder:
            fail(
                f"以{name}查询应返回持卡人本人",
                rule="R-CARD-01",
                on=reply,
                expected=holder,
                actual=answered,
            )
        listed = [
            (f["fil_type"], f["mdtrtarea_admdvs"], f["begndate"], f["enddate"])
            for f in reply.output.get("filinginfo") or []
        ]
        missing = [f for f in filed if f not in listed]
        if missing:
            fail(
                f"以{name}查询，应答应包含人员的异地就医备案",
                rule="R-FILE-01",
                on=reply,
                expected={"filinginfo（类型、就医地、开始、结束）": filed},
                actual={"filinginfo（类型、就医地、开始、结束）": listed},
            )


@case("JT-QRY-102")
def test_the_running_totals_follow_a_settlement_and_its_cancellation(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital)
    try:
        before = ok(relay.totals(visit))
        settlement = ok(relay.settle(visit))
        settled = ok(relay.totals(visit))
        totals_follow(before, settled, settlement.output, 1, f"结算【Y2304】{settlement.msgid}")
        ok(relay.cancel(visit))
        totals_follow(settled, ok(relay.totals(visit)), settlement.output, -1, "撤销结算【Y2305】")
    finally:
        with suppress(Refused):
            relay.cancel_admission(visit)


@case("JT-QRY-103")
def test_the_running_totals_keep_outpatient_usage_under_its_own_codes(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital, lines=4, med_type="11")
    before = ok(relay.totals(visit))
    settlement = ok(relay.settle(visit))
    after = ok(relay.totals(visit))  # the settlement and the visit are undone by suites/tidy.py
    s = settlement.output["setlinfo"]
    pool = f"D{visit.insutype}101"  # the pooled fund: fund_pay_type <insutype>100
    pooled = yuan(s["hifp_pay"])
    if pooled <= 0:
        fail(
            "本用例需要门诊结算有统筹基金支付（换用费用更多的就诊）",
            rule=None,
            on=settlement,
            expected={"hifp_pay": "> 0"},
        )
    moved = {
        "C0000_BIZ11": Decimal(1),
        "Q0000_BIZ11": yuan(s["act_pay_dedc"]),
        f"{pool}_BIZ11": pooled,
        "C0000": ZERO,
        "Q0000": ZERO,
        pool: ZERO,
    }
    was, now = running_totals(before), running_totals(after)
    wrong = [code for code, by in moved.items() if now.get(code, ZERO) - was.get(code, ZERO) != by]
    if wrong:
        fail(
            f"普通门诊结算【Y2304】{settlement.msgid}后，人员累计信息【Y5206】应记在门诊累计类别（_BIZ11）下、"
            "住院累计不变，不符：" + "、".join(wrong),
            rule="R-QRY-04",
            on=after,
            expected={c: f"{was.get(c, ZERO)} → {was.get(c, ZERO) + moved[c]}" for c in wrong},
            actual={c: f"{was.get(c, ZERO)} → {now.get(c, ZERO)}" for c in wrong},
        )
