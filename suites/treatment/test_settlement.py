"""Settlement (结算) cases against a treatment-province platform.

Long because it is one test per settlement case of the catalogue (settlement.yaml), in its order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ...actors.his import Episode, His, Refused, Reply, credential
from ...specs.money import exact_to, yuan
from ...world.policy import Band, Terms
from ...world.topology import Topology
from ..cast import yearly_deductible
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import (
    MONEY,
    accepted,
    added_by,
    admit,
    admitted,
    balanced,
    catalog,
    clock,
    counters_are,
    deductible_once_a_year,
    episode_to_discharge,
    fail,
    read_card,
    refused,
    running_totals,
    settled,
    succeed,
    unexpected_refusal,
)


@case("JT-SET-003")
def test_the_deductible_once_a_year(sut: Sut) -> None:
    newcomer, paid_up = sut.cast("P01", "H50000000001"), sut.cast("P07", "H50000000001")
    for pair in (newcomer, paid_up):
        yearly_deductible(sut.world, *pair)
    _, first = settled(sut, *newcomer)  # no stay yet this year, tertiary hospital
    _, again = settled(sut, *paid_up)  # paid the deductible already this year
    deductible_once_a_year(
        "2304",
        (newcomer[0], first.settlement["setlinfo"]),  # type: ignore[index]
        (paid_up[0], again.settlement["setlinfo"]),  # type: ignore[index]
    )


@case("JT-SET-008")
def test_cancel_and_settle_again_for_the_same_amounts(sut: Sut) -> None:
    his, episode = settled(sut, *sut.cast("P12", "H51010000001"))
    before = episode.settlement["setlinfo"]  # type: ignore[index]
    succeed(lambda: his.cancel_settlement(episode))
    succeed(lambda: his.settle(episode))
    after = episode.settlement["setlinfo"]  # type: ignore[index]
    keys = ("medfee_sumamt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt")
    changed = {k: (before[k], after[k]) for k in keys if before[k] != after[k]}
    if changed:
        fail(
            "撤销后重新结算金额应与原结算一致（年度累计应已回退）",
            rule="R-AMT-12",
            infno="2304",
            msgid=episode.settle_msgid,
            expected={k: v[0] for k, v in changed.items()},
            actual={k: v[1] for k, v in changed.items()},
        )
    if after["setl_id"] == before["setl_id"]:
        fail(
            "重新结算应产生新的结算ID",
            rule=None,
            infno="2304",
            msgid=episode.settle_msgid,
            expected={"setl_id": f"≠ {before['setl_id']}"},
            actual={"setl_id": after["setl_id"]},
        )


# ── what the cases below share ─────────────────────────────────────


def setlinfo(reply: Reply) -> dict[str, Any]:
    return dict(reply.output["setlinfo"])


def stay(
    sut: Sut,
    person: str,
    hospital: str,
    items: Sequence[tuple[str, float, float]] | None = None,
    *,
    discharge: bool = True,
) -> tuple[His, Episode]:
    """1101 → 2401 → 2301 (these items, or the hospital's usual six) → 2402 unless told not to."""
    his, episode = admitted(sut, person, hospital)
    try:
        his.upload_fees(episode, items or sut.items(hospital))
        if discharge:
            his.discharge(episode)
    except Refused as e:
        unexpected_refusal(e)
    return his, episode


def settle(his: His, episode: Episode, *, use_account: bool = True) -> Reply:
    """2303 then 2304, both expected to succeed; the 2304 answer."""
    succeed(lambda: his.presettle(episode, use_account=use_account))
    return succeed(lambda: his.settle(episode, use_account=use_account))


def policy(t: Topology, person: str) -> Terms:
    """The insured province's published policy for the person's insutype (参保地待遇), as it stands on the
    world's day: the oracle."""
    p = t.person(person)
    province = t.province_of(p.insuplc_admdvs) if p else None
    assert p is not None and province is not None and t.clock is not None, f"{person} is not in the world"
    return province.policies[p.insutype].on(t.clock.date())


def expected_ratio(t: Topology, person: str, hospital: str) -> Decimal:
    """The pooled-fund ratio the policy gives this person at this hospital's level: the level's (first band's)
    ratio, as the adjustments for who the person is change it, minus the reduction for temporary care
    (fil_type 4/5/6) of the filing used there."""
    p, h = t.person(person), t.hospital(hospital)
    assert p is not None and h is not None and t.clock is not None
    rules, today = policy(t, person), t.clock.date()
    filing = next((f for f in p.filings if f.covers(h.admdvs, today)), None)
    level = h.dedc_level
    ratio = rules.setting("inpatient").ratio[level][0].ratio
    for a in rules.adjustments:
        if a.who.covers(p.patient(today)):
            ratio = (a.ratio or {}).get(level, (Band(ratio),))[0].ratio + a.add.get(level, Decimal(0))
    return ratio - rules.temporary_reduction.get(filing.fil_type if filing else "", Decimal(0))


def hospital_name(sut: Sut, code: str) -> str:
    return sut.hospital(code).name


# ── JT-SET-001 ─────────────────────────────────────────────────────


@case("JT-SET-001")
def test_the_presettlement_equals_the_settlement(sut: Sut, joint_case: Case) -> None:
    his, episode = stay(sut, joint_case.person, joint_case.hospital)
    trial = succeed(lambda: his.presettle(episode))
    final = succeed(lambda: his.settle(episode))
    a, b = setlinfo(trial), setlinfo(final)
    own = {"setl_id", "medins_setl_id", "setl_time"}  # each message's own identity and time
    differ = {k: (a[k], b[k]) for k in sorted(a.keys() & b.keys() - own) if a[k] != b[k]}
    lines = {
        "setldetail": (
            [(x["fund_pay_type"], x["fund_payamt"]) for x in trial.output["setldetail"]],
            [(x["fund_pay_type"], x["fund_payamt"]) for x in final.output["setldetail"]],
        )
    }
    differ |= {k: v for k, v in lines.items() if v[0] != v[1]}
    if differ:
        fail(
            f"结算结果应与预结算【2303】{trial.msgid}逐项一致，不一致："
            + "；".join(f"{k} 预结算{v[0]}、结算{v[1]}" for k, v in differ.items() if k != "setldetail")
            + ("；基金分项setldetail" if "setldetail" in differ else ""),
            rule="R-AMT-10",
            on=final,
            expected={k: v[0] for k, v in differ.items()},
            actual={k: v[1] for k, v in differ.items()},
        )


# ── JT-SET-002 ─────────────────────────────────────────────────────


@case("JT-SET-002")
def test_every_settlement_answer_balances(sut: Sut, joint_case: Case) -> None:
    his, episode = stay(sut, joint_case.person, joint_case.hospital)
    cross = episode.insuplc_admdvs[:2] != sut.hospital(joint_case.hospital).admdvs[:2]
    answers = [succeed(lambda: his.presettle(episode)), succeed(lambda: his.settle(episode))]
    answers.append(succeed(lambda: his.cancel_settlement(episode)))
    answers.append(succeed(lambda: his.settle(episode)))
    for reply in answers:
        balanced(his, reply, cross_province=cross)


# ── JT-SET-004 / JT-SET-010 ────────────────────────────────────────


@pytest.mark.parametrize(
    "visits",
    [
        pytest.param(
            (("P02", "H33010000001"), ("P02", "H33010000003")),
            marks=case("JT-SET-004"),
            id="JT-SET-004-tertiary-and-primary",
        ),
        pytest.param(
            (("P02", "H33010000001"), ("P04", "H11000000001")),
            marks=case("JT-SET-010"),
            id="JT-SET-010-settled-there-and-temporary",
        ),
    ],
)
def test_the_pooled_fund_pays_the_policy_ratio(
    sut: Sut, joint_case: Case, visits: tuple[tuple[str, str], ...]
) -> None:
    for person, hospital in (sut.cast(*visit) for visit in visits):
        _, episode = settled(sut, person, hospital)
        s = episode.settlement["setlinfo"]  # type: ignore[index]
        ratio = expected_ratio(sut.world, person, hospital)
        expected = yuan((yuan(s["inscp_scp_amt"]) - yuan(s["act_pay_dedc"])) * ratio)
        if yuan(s["hifp_pay"]) != expected:
            fail(
                f"{person}在{hospital_name(sut, hospital)}住院，统筹基金应按参保地政策比例{ratio}支付："
                f"（符合范围{s['inscp_scp_amt']} − 起付线"
                f"{s['act_pay_dedc']}）× {ratio} = {expected}，实际{s['hifp_pay']}",
                rule=joint_case.rules[0],
                infno="2304",
                msgid=episode.settle_msgid,
                expected={"hifp_pay": float(expected), "比例": float(ratio)},
                actual={"hifp_pay": s["hifp_pay"], "pool_prop_selfpay": s.get("pool_prop_selfpay")},
            )


# ── JT-SET-005 ─────────────────────────────────────────────────────


@case("JT-SET-005")
def test_the_pooled_fund_stops_at_the_annual_cap(sut: Sut, joint_case: Case) -> None:
    person, hospital = joint_case.person, joint_case.hospital
    his, episode = stay(sut, person, hospital, sut.items(hospital, 40))
    final = settle(his, episode)
    s, rules = setlinfo(final), policy(sut.world, person)
    lines = {x["fund_pay_type"]: x for x in final.output["setldetail"]}
    who = sut.world.person(person)
    above = next((f for f in rules.funds if f.base == "over_cap"), None)  # 大额 / 大病 above the cap
    assert who is not None and above is not None
    used = yuan(who.ytd.get(int(s["setl_time"][:4]), {}).get("pool", 0))
    cap = rules.setting("inpatient").annual_cap
    assert cap is not None, f"{person}'s policy has no cap to stop at"
    left = cap - used  # what the world left at the start of the day
    pool, supp = yuan(s["hifp_pay"]), lines.get(above.fund_pay_type, {})
    limit = yuan(lines.get(rules.fund_pay_type, {}).get("crt_payb_lmt_amt"))
    uncapped = yuan(
        (yuan(s["inscp_scp_amt"]) - yuan(s["act_pay_dedc"])) * expected_ratio(sut.world, person, hospital)
    )
    if not (pool <= left and pool == limit and pool < uncapped):
        fail(
            f"{person}本年统筹基金仅剩{left}元可支付，统筹基金应支付至限额为止，"
            f"实际hifp_pay={s['hifp_pay']}（不设限额应为{uncapped}）",
            rule="R-BEN-03",
            on=final,
            expected={"hifp_pay": f"= 本次可支付限额 ≤ {left}", "crt_payb_lmt_amt": f"≤ {left}"},
            actual={"hifp_pay": s["hifp_pay"], "crt_payb_lmt_amt": float(limit)},
        )
    paid = yuan(supp.get("inscp_scp_amt")) * above.bands[0].ratio
    supp_paid = yuan(s["hifob_pay"]) + yuan(s["hifmi_pay"])  # 大额 for employees, 大病 for residents
    if yuan(supp.get("fund_payamt")) != yuan(paid) or supp_paid != yuan(paid):
        fail(
            f"超出统筹限额部分应由补充保险按{above.bands[0].ratio}支付",
            rule="R-BEN-03",
            on=final,
            expected={"fund_payamt": float(yuan(paid))},
            actual={"setldetail": supp, "hifob_pay": s["hifob_pay"], "hifmi_pay": s["hifmi_pay"]},
        )
    # the policy's other funds (公务员补助, 大病 on the personal share …): the follower checks each
    others = sum(
        (
            yuan(x["fund_payamt"])
            for code, x in lines.items()
            if code not in (rules.fund_pay_type, above.fund_pay_type)
        ),
        yuan(0),
    )
    personal = yuan(s["medfee_sumamt"]) - pool - yuan(paid) - others
    if yuan(s["psn_part_amt"]) != personal:
        fail(
            "个人负担应为医疗费总额减统筹、补充保险及其他基金支付",
            rule="R-BEN-03",
            on=final,
            expected={"psn_part_amt": float(personal)},
            actual={"psn_part_amt": s["psn_part_amt"]},
        )


# ── JT-SET-006 / JT-SET-007 ────────────────────────────────────────


@pytest.mark.parametrize(
    "use_account",
    [
        pytest.param(True, marks=case("JT-SET-006"), id="JT-SET-006-account-up-to-balance"),
        pytest.param(False, marks=case("JT-SET-007"), id="JT-SET-007-no-account"),
    ],
)
def test_the_personal_account_pays_only_when_asked_and_up_to_its_balance(
    sut: Sut, joint_case: Case, use_account: bool
) -> None:
    his, episode = stay(sut, joint_case.person, joint_case.hospital)
    balance = yuan(episode.person["insuinfo"][0]["balc"])  # what 1101 said
    final = settle(his, episode, use_account=use_account)
    s = setlinfo(final)
    personal = yuan(s["psn_part_amt"])
    account = min(balance, personal) if use_account else Decimal(0)
    expected = {"acct_pay": account, "psn_cash_pay": personal - account, "balc": balance - account}
    actual = {k: yuan(s[k]) for k in expected}
    if actual != expected:
        fail(
            f"acct_used_flag={int(use_account)}：个人账户"
            + (f"应支付个人负担{personal}，以1101余额{balance}为限" if use_account else "不应支付")
            + "，其余现金支付；实际"
            + "、".join(f"{k}={s[k]}" for k in expected),
            rule="R-BEN-06",
            on=final,
            expected={k: float(v) for k, v in expected.items()},
            actual={k: s[k] for k in expected},
        )


# ── JT-SET-009 ─────────────────────────────────────────────────────


@case("JT-SET-009")
def test_a_mid_stay_settlement_then_the_rest(sut: Sut, joint_case: Case) -> None:
    person, hospital = joint_case.person, joint_case.hospital
    items = sut.items(hospital, 8)
    his, episode = stay(sut, person, hospital, items[:5], discharge=False)
    succeed(lambda: his.presettle(episode, mid=True))
    part = accepted(
        lambda: his.settle(episode, mid=True), "R-LIFE-01", "未出院时中途结算（mid_setl_flag=1）应成功"
    )
    rest = Episode(episode.person, episode.insuplc_admdvs)  # the rest of the stay: admitted again
    card = sut.card(person)
    accepted(lambda: admit(his, rest, card), "R-LIFE-01", "中途结算后应可再次办理入院登记")
    try:
        his.upload_fees(rest, items[5:])
        his.discharge(rest)
    except Refused as e:
        unexpected_refusal(e)
    final = settle(his, rest)
    for reply, covered in ((part, episode), (rest.replies[-1], rest)):
        billed = yuan(covered.totals()["medfee_sumamt"])
        if yuan(setlinfo(reply)["medfee_sumamt"]) != billed:
            fail(
                "中途结算后每次结算只含本段上传的费用",
                rule="R-AMT-07",
                on=reply,
                expected={"medfee_sumamt": float(billed)},
                actual={"medfee_sumamt": setlinfo(reply)["medfee_sumamt"]},
            )
    if setlinfo(final)["setl_id"] == setlinfo(part)["setl_id"]:
        fail(
            "两次结算应为不同的结算ID",
            rule="R-LIFE-01",
            on=final,
            expected="不同",
            actual=setlinfo(final)["setl_id"],
        )


# ── JT-SET-011 ─────────────────────────────────────────────────────


@case("JT-SET-011")
def test_a_cancelled_discharge_takes_more_fees(sut: Sut, joint_case: Case) -> None:
    items = sut.items(joint_case.hospital, 6)
    his, episode = stay(sut, joint_case.person, joint_case.hospital, items[:4])
    rule = "R-LIFE-01"
    accepted(lambda: his.simple(episode, "2405"), rule, "已出院未结算的就诊应可撤销出院")
    accepted(lambda: his.upload_fees(episode, items[4:]), rule, "撤销出院后应可继续上传费用")
    accepted(lambda: his.discharge(episode), rule, "补传费用后应可再次办理出院")
    final = settle(his, episode)
    billed = yuan(episode.totals()["medfee_sumamt"])
    if yuan(setlinfo(final)["medfee_sumamt"]) != billed:
        fail(
            "结算应包含撤销出院前后上传的全部费用",
            rule=rule,
            on=final,
            expected={"medfee_sumamt": float(billed)},
            actual={"medfee_sumamt": setlinfo(final)["medfee_sumamt"]},
        )


# ── JT-SET-012 ─────────────────────────────────────────────────────


@case("JT-SET-012")
def test_a_visit_not_discharged_does_not_settle(sut: Sut, joint_case: Case) -> None:
    his, episode = stay(sut, joint_case.person, joint_case.hospital, discharge=False)
    refused(lambda: his.settle(episode), "E4002", "R-LIFE-01")
    succeed(lambda: his.discharge(episode))  # the refusal left nothing behind: the stay ends normally
    settle(his, episode)


# ── JT-SET-013 ─────────────────────────────────────────────────────


@case("JT-SET-013")
def test_a_total_that_disagrees_with_the_fees_is_refused(sut: Sut, joint_case: Case) -> None:
    his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
    more = 100.0  # yuan more than was uploaded

    def claim(infno: str) -> Reply:
        data = his.settlement_data(episode, infno, use_account=True, mid=False)
        data["medfee_sumamt"] = round(data["medfee_sumamt"] + more, 2)
        if infno == "2303":  # 2303 must still add up (R-AMT-01): the in-policy amount is overstated too
            data["inscp_scp_amt"] = round(data["inscp_scp_amt"] + more, 2)
        else:  # 2304 may leave the four ranges out: only the total is checked against the fees
            for key in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"):
                data.pop(key, None)
        return his.call(infno, {"data": data}, insuplc_admdvs=episode.insuplc_admdvs)

    refused(lambda: claim("2304"), "E5002", "R-AMT-07")
    refused(lambda: claim("2303"), "E5002", "R-AMT-07")
    settle(his, episode)  # the true total settles


# ── JT-SET-014 ─────────────────────────────────────────────────────


@case("JT-SET-014")
def test_a_cancellation_is_the_exact_negative_and_pays_the_account_back(sut: Sut, joint_case: Case) -> None:
    his, episode = stay(sut, joint_case.person, joint_case.hospital)
    balance = yuan(episode.person["insuinfo"][0]["balc"])
    s = setlinfo(settle(his, episode))
    cancel = succeed(lambda: his.cancel_settlement(episode))
    c = setlinfo(cancel)
    wrong = {k: (-yuan(s[k]), c.get(k)) for k in MONEY if k in s and k in c and yuan(c[k]) != -yuan(s[k])}
    if wrong:
        fail(
            f"撤销结算应返回原结算金额的相反数，不符：{'、'.join(wrong)}",
            rule="R-AMT-11",
            on=cancel,
            expected={k: float(v[0]) for k, v in wrong.items()},
            actual={k: v[1] for k, v in wrong.items()},
        )
    again = succeed(lambda: his.person_info(sut.card(joint_case.person)))
    after = {"2305 balc": yuan(c.get("balc")), "1101 balc": yuan(again.output["insuinfo"][0]["balc"])}
    if any(v != balance for v in after.values()):
        fail(
            f"撤销结算后个人账户支付{s['acct_pay']}应退回，余额应恢复为结算前的{balance}",
            rule="R-BEN-06",
            on=cancel,
            expected={k: float(balance) for k in after},
            actual={k: float(v) for k, v in after.items()},
        )


# ── JT-SET-015: one person's year through several stays, across 31 December ──


def totals_of(his: His, episode: Episode, month: str) -> dict[str, Decimal]:
    """【5206】 the running totals of the insurance year of ``month`` (yyyyMM)."""
    reply = accepted(
        lambda: his.totals(episode.psn_no, episode.insuplc_admdvs, month),
        "R-QRY-04",
        f"查询人员{month[:4]}年度累计信息【5206】应成功",
    )
    return running_totals(reply)


def balance_now(sut: Sut, his: His, person: str) -> Decimal:
    """The personal account's balance as 1101 answers it."""
    return yuan(succeed(lambda: his.person_info(sut.card(person))).output["insuinfo"][0]["balc"])


def begun(his: His, sut: Sut, person: str, at: datetime) -> Episode:
    """1101 → 2401 begun ``at`` (the SUT's simulated time) → 2301, its lines dated then too."""
    card = sut.card(person)
    episode = read_card(his, card)
    cert = credential(card, "03")
    succeed(lambda: his.admit(episode, cert=cert, card_sn=card.get("card_sn"), begntime=at))
    succeed(lambda: his.upload_fees(episode, sut.items(his.hospital.fixmedins_code), when=at)[0])
    return episode


@case("JT-SET-015")
def test_a_year_of_stays_across_new_year_with_a_cancellation_and_a_reversal(
    sut: Sut, joint_case: Case
) -> None:
    person, hospital = joint_case.person, joint_case.hospital
    year = (sut.world.clock or datetime.now()).year
    eve, late, morning = (datetime(year, 12, 31, 8), datetime(year, 12, 31, 22), datetime(year + 1, 1, 1, 9))
    this, next_ = f"{year}12", f"{year + 1}01"
    his = sut.his(hospital)
    with clock(sut) as move:
        move(f"{year}-12-31T10:00:00")
        first = begun(his, sut, person, eve)
        before = {this: totals_of(his, first, this), next_: totals_of(his, first, next_)}
        was = balance_now(sut, his, person)
        succeed(lambda: his.discharge(first, endtime=datetime(year, 12, 31, 10)))
        settle(his, first)
        succeed(lambda: his.cancel_settlement(first))  # 2305, then the same stay settled again
        a = settle(his, first).output
        move(late.isoformat())
        second = begun(his, sut, person, late)
        move(morning.isoformat())  # discharged and settled in the new year: it counts there
        succeed(lambda: his.discharge(second, endtime=morning))
        settle(his, second)
        omsgid = second.settle_msgid
        reversal = accepted(
            lambda: his.reverse(second, omsgid, "2304"), "R-REV-01", f"冲正结算【2304】{omsgid}应成功"
        )
        paid = {"balc": was - yuan(a["setlinfo"]["acct_pay"])}
        counters_are(
            f"冲正【2601】{omsgid}后个人账户余额", {"balc": balance_now(sut, his, person)}, paid, reversal
        )
        counters_are(
            f"冲正后{year + 1}年度累计【5206】", totals_of(his, first, next_), before[next_], reversal
        )
        b = settle(his, second)
        last = b.output
        years = {this: [a], next_: [last]}
        for month, standing in years.items():
            expected = {k: before[month].get(k, Decimal(0)) + v for k, v in added_by(standing).items()}
            counters_are(f"{month[:4]}年度累计【5206】", totals_of(his, first, month), expected, b)
        spent = yuan(a["setlinfo"]["acct_pay"]) + yuan(last["setlinfo"]["acct_pay"])
        counters_are(
            "个人账户余额【1101】", {"balc": balance_now(sut, his, person)}, {"balc": was - spent}, b
        )


# ── JT-SET-016: a person type's adjustment, on an amount landing on half a cent ──


def half_cent_line(sut: Sut, hospital: str, eligible: Decimal, ratio: Decimal) -> tuple[str, float, float]:
    """A 甲 line (in policy in full) whose price brings the amount the pooled fund pays on from ``eligible``
    to one whose share at ``ratio`` is exactly half a cent above an even cent: half up and half to even
    differ by a cent there."""
    item = next(
        e for e in catalog(sut.world, hospital).values() if e.chrgitm_lv == "01" and e.price_cap is None
    )
    for k in range(1, 100000):
        price = item.item.price + Decimal(k) / 100
        share = (eligible + price) * ratio
        if exact_to(share, 3) and share % Decimal("0.02") == Decimal("0.005"):
            return item.item.code, 1, float(price)
    raise AssertionError(f"no price makes a half cent at {ratio}")


@case("JT-SET-016")
def test_a_person_types_ratio_across_provinces_rounded_half_up(sut: Sut, joint_case: Case) -> None:
    person, hospital = joint_case.person, joint_case.hospital
    ratio = expected_ratio(sut.world, person, hospital)  # the level's, as the person's type adjusts it
    his, episode = stay(sut, person, hospital, discharge=False)
    trial = setlinfo(succeed(lambda: his.presettle(episode, mid=True)))
    eligible = yuan(trial["inscp_scp_amt"]) - yuan(trial["act_pay_dedc"])
    succeed(lambda: his.upload_fees(episode, [half_cent_line(sut, hospital, eligible, ratio)])[0])
    succeed(lambda: his.discharge(episode))
    final = settle(his, episode)
    s = setlinfo(final)
    product = (yuan(s["inscp_scp_amt"]) - yuan(s["act_pay_dedc"])) * ratio
    expected = yuan(product)  # half up: 0.005 is the next cent
    if yuan(s["hifp_pay"]) != expected:
        fail(
            f"{person}（{hospital_name(sut, hospital)}）统筹基金应按参保地对该人员类别的比例{ratio}支付，"
            f"四舍五入到分：{product} → {expected}，实际{s['hifp_pay']}",
            rule="R-BEN-02",
            on=final,
            expected={"hifp_pay": float(expected), "比例": float(ratio)},
            actual={"hifp_pay": s["hifp_pay"]},
        )
