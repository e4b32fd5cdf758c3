"""Admission (入院) and filing (备案) cases against a treatment-province platform."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ...actors.his import Episode, His, credential
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import (
    accepted,
    admit,
    admitted,
    clock,
    close_stay,
    episode_to_discharge,
    fail,
    read_card,
    refused,
    succeed,
    warned_not_filed,
)


@pytest.mark.parametrize(
    ("cert_type", "code"),
    [
        pytest.param("03", "E3002", marks=case("JT-ADM-002"), id="JT-ADM-002-not-filed"),
        pytest.param("02", "E3003", marks=case("JT-ADM-003"), id="JT-ADM-003-expired-yesterday"),
        pytest.param("03", "E3004", marks=case("JT-ADM-004"), id="JT-ADM-004-another-place"),
    ],
)
def test_a_filing_that_does_not_cover_the_visit_is_refused(
    sut: Sut, joint_case: Case, cert_type: str, code: str
) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital, cert_type=cert_type)
    refused(lambda: his.presettle(episode), code, joint_case.rules[0])


@case("JT-ADM-006")
def test_a_wrong_card_sn_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    card = {**sut.card(joint_case.person), "card_sn": "0" * 32}
    refused(lambda: his.person_info(card, "03"), "E3007", joint_case.rules[0])


def settle_directly(his: His, episode: Episode, rule: str) -> None:
    """2303 → 2304 after discharge; cross-province direct settlement means the fund pays its share."""
    succeed(lambda: his.presettle(episode))
    reply = succeed(lambda: his.settle(episode))
    fund = reply.output["setlinfo"]["fund_pay_sumamt"]
    if not fund > 0:
        fail(
            f"应直接结算、基金支付大于0，实际fund_pay_sumamt={fund}",
            rule=rule,
            on=reply,
            expected={"fund_pay_sumamt": "> 0"},
            actual={"fund_pay_sumamt": fund},
        )


@pytest.mark.parametrize(
    "fil_type",
    [
        pytest.param("1", marks=case("JT-ADM-007"), id="JT-ADM-007-retired-resettled"),
        pytest.param("2", marks=case("JT-ADM-008"), id="JT-ADM-008-living-there"),
        pytest.param("3", marks=case("JT-ADM-009"), id="JT-ADM-009-working-there"),
        pytest.param("4", marks=case("JT-ADM-010"), id="JT-ADM-010-referral"),
        pytest.param("5", marks=case("JT-ADM-011"), id="JT-ADM-011-temporary"),
        pytest.param("6", marks=case("JT-ADM-012"), id="JT-ADM-012-emergency"),
    ],
)
def test_a_filed_person_of_each_filing_type_is_admitted_and_settles(
    sut: Sut, joint_case: Case, fil_type: str
) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
    admission = next(r for r in episode.replies if r.infno == "2401")
    if warned_not_filed(admission):
        fail(
            f"{joint_case.person}已办理备案（类型{fil_type}），入院不应提示未备案，"
            f"实际提示：{admission.warn_msg}",
            rule="R-FILE-01",
            on=admission,
            expected={"warn_msg": "无未备案提示"},
            actual={"warn_msg": admission.warn_msg},
        )
    settle_directly(his, episode, "R-FILE-01")


@case("JT-ADM-013")
def test_a_lost_card_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    refused(lambda: his.person_info(sut.card(joint_case.person), "03"), "E3005", "R-CARD-02")


@pytest.mark.parametrize(
    "cert_type",
    [
        pytest.param("02", marks=case("JT-ADM-014"), id="JT-ADM-014-id-number"),
        pytest.param("01", marks=case("JT-ADM-015"), id="JT-ADM-015-e-voucher"),
    ],
)
def test_without_a_usable_card_the_id_number_or_e_voucher_admits(
    sut: Sut, joint_case: Case, cert_type: str
) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital, cert_type=cert_type)
    settle_directly(his, episode, "R-CARD-02")


@case("JT-ADM-016")
def test_suspended_insurance_is_refused_at_admission(sut: Sut, joint_case: Case) -> None:
    his, card = sut.his(joint_case.hospital), sut.card(joint_case.person)
    episode = read_card(his, card)
    status = episode.person["insuinfo"][0].get("psn_insu_stas")
    if status == "1":
        fail(
            f"{joint_case.person}已暂停参保，参保状态不应为1正常参保",
            rule="R-FILE-04",
            on=episode.replies[0],
            expected={"psn_insu_stas": "非1（暂停参保）"},
            actual={"psn_insu_stas": status},
        )
    try:
        refused(lambda: admit(his, episode, card), "E3006", "R-FILE-04")
    finally:
        if episode.mdtrt_id:  # admitted although it should not have been: leave no open stay behind
            close_stay(his, episode)


@case("JT-ADM-017")
def test_a_card_visit_without_card_sn_is_refused(sut: Sut, joint_case: Case) -> None:
    his = sut.his(joint_case.hospital)
    card = {**sut.card(joint_case.person), "card_sn": None}
    reply = refused(lambda: his.person_info(card, "03"), "E1001", "R-CARD-01")
    if "card_sn" not in reply.err_msg:
        fail(
            f"拒绝原因应指明卡识别码card_sn必填，实际{reply.err_msg}",
            rule="R-CARD-01",
            on=reply,
            expected={"err_msg": "[E1001]…card_sn…"},
            actual={"err_msg": reply.err_msg},
        )


@case("JT-ADM-018")
def test_admission_is_cancelled_only_without_fees(sut: Sut, joint_case: Case) -> None:
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    succeed(lambda: his.simple(episode, "2404"))  # no fees yet: cancelled
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    try:
        succeed(lambda: his.upload_fees(episode, sut.items(joint_case.hospital, 3))[0])
        refused(lambda: his.simple(episode, "2404"), "E4003", "R-LIFE-02")
        succeed(lambda: his.simple(episode, "2302", feedetl_sn="0000"))
        succeed(lambda: his.simple(episode, "2404"))
    finally:
        close_stay(his, episode)


@case("JT-ADM-019")
def test_a_second_admission_during_a_stay_is_refused(sut: Sut, joint_case: Case) -> None:
    his, first = admitted(sut, joint_case.person, joint_case.hospital)
    card = sut.card(joint_case.person)
    second = read_card(his, card)
    try:
        reply = refused(lambda: admit(his, second, card), "E4004", "R-LIFE-03")
        if first.mdtrt_id not in reply.err_msg:
            fail(
                f"拒绝原因应指明已有的在院登记{first.mdtrt_id}，实际{reply.err_msg}",
                rule="R-LIFE-03",
                on=reply,
                expected={"err_msg": f"[E4004]…{first.mdtrt_id}…"},
                actual={"err_msg": reply.err_msg},
            )
    finally:
        close_stay(his, first)
        if second.mdtrt_id:
            close_stay(his, second)


# ── JT-ADM-020 / JT-ADM-021: both ends of a filing, the life-cycle for a same-province patient ──


@case("JT-ADM-020")
def test_a_filing_is_valid_from_its_first_day_to_its_last_both_included(sut: Sut, joint_case: Case) -> None:
    person, place = sut.world.person(joint_case.person), sut.world.hospital(joint_case.hospital)
    assert person is not None and place is not None
    filing = next(
        f
        for f in person.filings
        if f.enddate and f.covers(place.admdvs, f.begndate) and f.covers(place.admdvs, f.enddate)
    )
    first, last = filing.begndate, filing.enddate
    assert last is not None  # chosen for having one
    valid = f"备案{filing.sn}有效期{first}至{last}"
    with clock(sut) as move:
        for day, which in ((first, "开始日"), (last, "终止日")):
            move(f"{day}T10:00:00")
            settles_that_day(sut, joint_case, f"{valid}，{which}{day}当天备案有效，应可直接结算")
        after = last + timedelta(days=1)
        move(f"{after}T10:00:00")
        his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
        try:
            refused(lambda: his.presettle(episode), "E3003", "R-FILE-02")
        finally:
            close_stay(his, episode)


def settles_that_day(sut: Sut, joint_case: Case, why: str) -> None:
    """A stay settled (and its settlement cancelled and the stay closed, the year as it was)."""
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
    accepted(lambda: his.presettle(episode), "R-FILE-02", why)
    accepted(lambda: his.settle(episode), "R-FILE-02", why)
    succeed(lambda: his.cancel_settlement(episode))
    close_stay(his, episode)


@case("JT-ADM-021")
def test_the_life_cycle_rules_hold_for_a_same_province_patient(sut: Sut, joint_case: Case) -> None:
    his, first = admitted(sut, joint_case.person, joint_case.hospital)
    card = sut.card(joint_case.person)
    second = read_card(his, card)
    items = sut.items(joint_case.hospital, 2)
    try:
        refused(lambda: admit(his, second, card), "E4004", "R-LIFE-03")
        succeed(lambda: his.upload_fees(first, items[:1])[0])
        refused(lambda: his.simple(first, "2404"), "E4003", "R-LIFE-02")
        succeed(lambda: his.discharge(first))
        refused(lambda: his.upload_fees(first, items[1:])[0], "E4002", "R-LIFE-01")
    finally:
        close_stay(his, first)
        if second.mdtrt_id:
            close_stay(his, second)


# ── JT-ADM-022: a visit's times in order and not in the platform's future (R-DATE-04) ──

# Well beyond any clock tolerance (the reference allows 10 minutes; the spec names none), yet a plausible
# date, so a platform that only refuses absurd years (9999-12-31) fails too.
AHEAD = timedelta(days=1)


@case("JT-ADM-022")
def test_times_in_the_platforms_future_or_out_of_order_are_refused(sut: Sut, joint_case: Case) -> None:
    his, card = sut.his(joint_case.hospital), sut.card(joint_case.person)
    episode = read_card(his, card)  # the HIS now keeps the platform's time, as its answer stated it
    ahead = his.now() + AHEAD
    refused(
        lambda: his.admit(episode, cert=credential(card, "03"), card_sn=card.get("card_sn"), begntime=ahead),
        "E4012",
        "R-DATE-04",
    )
    succeed(lambda: admit(his, episode, card))
    begun = his.now()
    try:
        item = sut.items(joint_case.hospital, 1)
        refused(lambda: his.upload_fees(episode, item, when=his.now() + AHEAD)[0], "E4012", "R-DATE-04")
        succeed(lambda: his.upload_fees(episode, item)[0])
        refused(lambda: his.discharge(episode, endtime=begun - timedelta(days=1)), "E4011", "R-DATE-04")
        refused(lambda: his.discharge(episode, endtime=his.now() + AHEAD), "E4012", "R-DATE-04")
        # had either refused discharge been booked, the visit would be discharged and this one refused
        accepted(lambda: his.discharge(episode), "R-DATE-04", "此前出院均应被拒绝，按当前时间出院应成功")
    finally:
        close_stay(his, episode)
