"""Query (查询) cases against a treatment-province platform: 5203 settlement, 5204 fees, 5206 a person's
running totals, 5303 in hospital.

What a query answers is checked against what the platform answered when the business happened (the 2304,
2301 and 2401 answers of the same case), never against constants.
"""

from __future__ import annotations

from typing import Any

from ...actors.his import Episode, His, Refused, Reply
from ...specs.money import yuan
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import (
    MONEY,
    accepted,
    admitted,
    close_stay,
    fail,
    query_settlement,
    read_card,
    refused,
    settled,
    succeed,
    totals_follow,
    unexpected_refusal,
)

SPLIT = ("det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")


def setlinfo(reply: Reply) -> dict[str, Any]:
    return dict(reply.output["setlinfo"])


def lookup(his: His, episode: Episode, setl_id: str) -> Reply:
    """【5203】 expected to succeed (R-QRY-01)."""
    return accepted(lambda: query_settlement(his, episode, setl_id), "R-QRY-01", "查询本院结算信息应成功")


def same_as_settled(query: Reply, settlement: Reply) -> None:
    """5203 repeats the settlement's identity, amounts and fund lines (R-QRY-01)."""
    q, s = setlinfo(query), setlinfo(settlement)
    differ = {k: (s.get(k), q.get(k)) for k in ("setl_id", "mdtrt_id", "psn_no") if q.get(k) != s.get(k)}
    differ |= {k: (s[k], q.get(k)) for k in MONEY if k in s and yuan(q.get(k)) != yuan(s[k])}
    funds = [(x["fund_pay_type"], yuan(x["fund_payamt"])) for x in settlement.output["setldetail"]]
    found = [(x["fund_pay_type"], yuan(x["fund_payamt"])) for x in query.output.get("setldetail") or []]
    if sorted(funds) != sorted(found):
        differ["setldetail"] = (funds, found)
    if differ:
        fail(
            f"结算信息应与结算【2304】{settlement.msgid}的应答一致，不一致："
            + "；".join(f"{k} 结算{v[0]}、查询{v[1]}" for k, v in differ.items() if k != "setldetail")
            + ("；基金分项setldetail" if "setldetail" in differ else ""),
            rule="R-QRY-01",
            on=query,
            expected={k: str(v[0]) for k, v in differ.items()},
            actual={k: str(v[1]) for k, v in differ.items()},
        )


def refund_flag(query: Reply, expected: str, why: str) -> None:
    flag = setlinfo(query).get("refd_setl_flag")
    if flag != expected:
        fail(
            f"{why}，退费结算标志refd_setl_flag应为{expected}，实际{flag}",
            rule="R-QRY-01",
            on=query,
            expected={"refd_setl_flag": expected},
            actual={"refd_setl_flag": flag},
        )


# ── 5203 ───────────────────────────────────────────────────────────


@case("JT-QRY-001")
def test_the_settlement_query_repeats_the_settlement(sut: Sut, joint_case: Case) -> None:
    items = sut.items(joint_case.hospital, 6)
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    try:  # a trial during the stay, then more fees: the settlement differs from the trial
        his.upload_fees(episode, items[:4])
        his.presettle(episode)
        his.upload_fees(episode, items[4:])
        his.discharge(episode)
        final = his.settle(episode)
    except Refused as e:
        unexpected_refusal(e)
    query = lookup(his, episode, setlinfo(final)["setl_id"])
    same_as_settled(query, final)
    refund_flag(query, "0", "有效的结算")


@case("JT-QRY-002")
def test_a_cancelled_settlement_shows_as_refunded(sut: Sut, joint_case: Case) -> None:
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    first = setlinfo(episode.replies[-1])["setl_id"]
    succeed(lambda: his.cancel_settlement(episode))
    refund_flag(lookup(his, episode, first), "1", f"结算{first}已撤销【2305】")
    again = succeed(lambda: his.settle(episode))
    query = lookup(his, episode, setlinfo(again)["setl_id"])
    same_as_settled(query, again)
    refund_flag(query, "0", "撤销后重新结算的结算")


@case("JT-QRY-005")
def test_an_unknown_settlement_id_is_refused(sut: Sut, joint_case: Case) -> None:
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    real = setlinfo(episode.replies[-1])["setl_id"]
    unknown = real[:-6] + ("999999" if not real.endswith("999999") else "888888")
    refused(lambda: query_settlement(his, episode, unknown), "E4005", "R-QRY-01")
    lookup(his, episode, real)  # the visit's real settlement is still found


# persons of five insured provinces (a psn_no starts with its insured area): some number below the case
# person's and some above, whoever that is
OTHERS = ("P37", "P29", "P12", "P01", "P20")


@case("JT-QRY-007")
def test_a_settlement_asked_with_another_persons_number_is_refused(sut: Sut, joint_case: Case) -> None:
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    real = setlinfo(episode.replies[-1])["setl_id"]
    others = (read_card(his, sut.card(k)).psn_no for k in OTHERS if k != joint_case.person)
    numbers = set(others) - {episode.psn_no}
    # one smaller and one greater than the person's own: a check comparing them one way only is seen
    below = [n for n in numbers if n < episode.psn_no]
    above = [n for n in numbers if n > episode.psn_no]
    for other in (max(below, default=None), min(above, default=None)):
        if other is None:
            continue
        data = his.node("5203", "data", psn_no=other, setl_id=real, mdtrt_id=episode.mdtrt_id)
        refused(
            lambda: his.call("5203", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs),  # noqa: B023
            "E4005",
            "R-QRY-01",
        )
    lookup(his, episode, real)  # with the person's own number it is found


# ── 5204 ───────────────────────────────────────────────────────────


@case("JT-QRY-003")
def test_the_fee_query_lists_the_live_lines_with_their_settlement(sut: Sut, joint_case: Case) -> None:
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    try:
        his.upload_fees(episode, sut.items(joint_case.hospital, 6))
        gone = str(episode.fees[0]["feedetl_sn"])
        his.simple(episode, "2302", feedetl_sn=gone)
        episode.fees = [f for f in episode.fees if f["feedetl_sn"] != gone]  # what remains to be settled
        his.discharge(episode)
        his.presettle(episode)
        setl_id = setlinfo(his.settle(episode))["setl_id"]
    except Refused as e:
        unexpected_refusal(e)
    data = his.node("5204", "data", psn_no=episode.psn_no, mdtrt_id=episode.mdtrt_id, setl_id=None)
    query = accepted(
        lambda: his.call("5204", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs),
        "R-QRY-02",
        "查询本次就诊费用明细应成功",
    )
    rows = {str(r["feedetl_sn"]): r for r in query.output.get("data") or []}
    uploaded = {str(f["feedetl_sn"]): f for f in episode.fees}
    if rows.keys() != uploaded.keys():
        fail(
            f"应恰好返回未撤销的{len(uploaded)}条明细，实际{len(rows)}条"
            + (f"，含已撤销的{gone}" if gone in rows else ""),
            rule="R-QRY-02",
            on=query,
            expected=sorted(uploaded),
            actual=sorted(rows),
        )
    for sn, line in uploaded.items():
        differ = {
            k: (line.get(k), rows[sn].get(k)) for k in SPLIT if yuan(rows[sn].get(k)) != yuan(line.get(k))
        }
        if rows[sn].get("setl_id") != setl_id:
            differ["setl_id"] = (setl_id, rows[sn].get("setl_id"))
        if differ:
            fail(
                f"明细{sn}应与上传应答【2301】一致并带本次结算ID，不一致：" + "、".join(differ),
                rule="R-QRY-02",
                on=query,
                expected={k: v[0] for k, v in differ.items()},
                actual={k: v[1] for k, v in differ.items()},
            )


# ── 5303 ───────────────────────────────────────────────────────────


def in_hospital(his: His, episode: Episode) -> tuple[Reply, dict[str, Any] | None]:
    """【5303】 for the person, today; the row of the episode's visit if listed."""
    today = f"{his.now():%Y-%m-%d}"
    data = his.node(
        "5303", "data", psn_no=episode.psn_no, begntime=f"{today} 00:00:00", endtime=f"{today} 23:59:59"
    )
    reply = accepted(
        lambda: his.call("5303", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs),
        "R-QRY-03",
        "查询在院信息应成功",
    )
    row = next((r for r in reply.output.get("data") or [] if r.get("mdtrt_id") == episode.mdtrt_id), None)
    return reply, row


@case("JT-QRY-004")
def test_the_in_hospital_query_lists_the_stay_until_it_is_settled(sut: Sut, joint_case: Case) -> None:
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    admission = his.adapter.to_base("2401", "input", episode.replies[-1].request["input"])["mdtrtinfo"]
    reply, row = in_hospital(his, episode)
    expected = {
        "psn_no": episode.psn_no,
        "certno": episode.person["baseinfo"]["certno"],
        "insutype": admission["insutype"],
        "begndate": admission["begntime"][:10],
        "med_type": admission["med_type"],
        "out_flag": "1",  # the person is insured in another province
    }
    if row is None or any(row.get(k) != v for k, v in expected.items()):
        fail(
            f"在院的就诊{episode.mdtrt_id}应列出且与入院登记【2401】一致",
            rule="R-QRY-03",
            on=reply,
            expected=expected,
            actual={k: row.get(k) for k in expected} if row else "未列出",
        )
    try:
        his.upload_fees(episode, sut.items(joint_case.hospital))
        his.discharge(episode)
        his.presettle(episode)
        his.settle(episode)
    except Refused as e:
        unexpected_refusal(e)
    reply, row = in_hospital(his, episode)
    if row is not None:
        fail(
            f"已出院结算的就诊{episode.mdtrt_id}不应再列为在院",
            rule="R-QRY-03",
            on=reply,
            expected="不列出",
            actual=row,
        )


SAME_HOSPITAL = {"P11": "P03"}  # the other person in hospital at the case's hospital (both filed to Xi'an)


@case("JT-QRY-008")
def test_the_in_hospital_query_for_one_person_lists_no_one_else(sut: Sut, joint_case: Case) -> None:
    his, first = admitted(sut, joint_case.person, joint_case.hospital)
    try:
        _, second = admitted(sut, SAME_HOSPITAL[joint_case.person], joint_case.hospital)
    except BaseException:
        close_stay(his, first)
        raise
    try:
        for episode in (first, second):
            reply, row = in_hospital(his, episode)
            others = [r for r in reply.output.get("data") or [] if r.get("psn_no") != episode.psn_no]
            if row is None or others:
                fail(
                    f"按人员编号{episode.psn_no}查询在院信息，应只列出其在院就诊{episode.mdtrt_id}",
                    rule="R-QRY-03",
                    on=reply,
                    expected={"mdtrt_id": episode.mdtrt_id, "其他人员": "无"},
                    actual={
                        "mdtrt_id": row.get("mdtrt_id") if row else "未列出",
                        "其他人员": [r.get("psn_no") for r in others] or "无",
                    },
                )
    finally:
        close_stay(his, first)
        close_stay(his, second)


# ── 5206 ───────────────────────────────────────────────────────────


def totals(his: His, episode: Episode) -> Reply:
    """【5206】 of the person, this year, expected to succeed (R-QRY-04)."""
    return accepted(
        lambda: his.totals(episode.psn_no, episode.insuplc_admdvs), "R-QRY-04", "查询人员累计信息应成功"
    )


@case("JT-QRY-006")
def test_the_running_totals_follow_a_settlement_and_its_cancellation(sut: Sut, joint_case: Case) -> None:
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    try:
        before = totals(his, episode)
        try:
            his.upload_fees(episode, sut.items(joint_case.hospital, 6))
            his.discharge(episode)
            settlement = his.settle(episode).output
        except Refused as e:
            unexpected_refusal(e)
        settled_totals = totals(his, episode)
        totals_follow(
            before, settled_totals, settlement, 1, f"结算【2304】{settlement['setlinfo']['setl_id']}"
        )
        succeed(lambda: his.cancel_settlement(episode))
        totals_follow(settled_totals, totals(his, episode), settlement, -1, "撤销结算【2305】")
    finally:
        close_stay(his, episode)
