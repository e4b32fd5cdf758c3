"""Reliability (可靠性) cases against a treatment-province platform: idempotency by msgid, reversal (2601)
of every reversible transaction, concurrent settlement, and what the platform does when the insured side
or the national hub fails.

Faults are injected through the simulators' admin endpoint (``POST /admin/faults``), which only yidi's
own simulators have: against another SUT those cases are skipped with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import pytest
from sqlalchemy import select

from ...actors.his import Episode, His, Refused, Reply
from ...simulators.store import details
from ...specs import money
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import (
    MONEY,
    admit,
    admitted,
    close_stay,
    episode_to_discharge,
    fail,
    fault,
    housekeeping,
    injectable,
    read_card,
    refused,
    settled,
    succeed,
    unexpected_refusal,
)

# ── steps these cases share ────────────────────────────────────────


def presettled(sut: Sut, case: Case) -> tuple[His, Episode]:
    """1101 → 2401 → 2301 → 2402 → 2303: what the visit will cost, as the SUT computed it just now."""
    his, episode = episode_to_discharge(sut, case.person, case.hospital)
    succeed(lambda: his.presettle(episode))
    return his, episode


def settlement_message(his: His, episode: Episode) -> dict[str, Any]:
    """【2304】 as the HIS builds it, not yet sent."""
    data = {"data": his.settlement_data(episode, "2304", use_account=True, mid=False)}
    return his.message("2304", data, insuplc_admdvs=episode.insuplc_admdvs)


def sent(his: His, message: Mapping[str, Any]) -> Reply:
    reply = his.send(message)
    if not reply.ok:
        unexpected_refusal(Refused(reply))
    return reply


def same_money(what: str, expected: Mapping[str, Any], reply: Reply, rule: str) -> None:
    """The settlement in ``reply`` pays what ``expected`` (an earlier answer's setlinfo) said, to the cent."""
    actual = reply.output["setlinfo"]
    changed = {k: (expected.get(k), actual.get(k)) for k in MONEY if expected.get(k) != actual.get(k)}
    if changed:
        fail(
            what,
            rule=rule,
            on=reply,
            expected={k: v[0] for k, v in changed.items()},
            actual={k: v[1] for k, v in changed.items()},
        )


def answer_of(step: Callable[[], Reply]) -> Reply:
    """The answer to a step, whether it succeeded or was refused."""
    try:
        return step()
    except Refused as e:
        return e.reply


def query_settlement(his: His, episode: Episode, setl_id: str) -> dict[str, Any]:
    """【5203】 the settlement's record at the platform."""
    data = {"psn_no": episode.psn_no, "setl_id": setl_id, "mdtrt_id": episode.mdtrt_id}
    reply = succeed(lambda: his.call("5203", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs))
    return dict(reply.output["setlinfo"])


def stands(his: His, episode: Episode, setl_id: str, rule: str) -> None:
    """The settlement is in force again (5203: refd_setl_flag 0, not refunded)."""
    record = query_settlement(his, episode, setl_id)
    if str(record.get("refd_setl_flag")) != "0":
        fail(
            f"结算{setl_id}应恢复有效（退费结算标志refd_setl_flag=0），实际{record.get('refd_setl_flag')}",
            rule=rule,
            infno="5203",
            expected={"refd_setl_flag": "0"},
            actual={"refd_setl_flag": record.get("refd_setl_flag")},
        )


# ── idempotency (R-IDEM-01) ────────────────────────────────────────


@case("JT-REL-001")
def test_the_same_settlement_sent_twice_is_settled_once(sut: Sut, joint_case: Case) -> None:
    his, episode = presettled(sut, joint_case)
    quoted = dict(episode.presettlement["setlinfo"])  # type: ignore[index]
    message = settlement_message(his, episode)
    first = sent(his, message)
    again = his.send(message)  # the HIS timed out and sends the very same message again (new signature)
    if again.body != first.body:
        fail(
            "同一报文ID重发应返回首次应答，且不重复结算",
            rule="R-IDEM-01",
            infno="2304",
            msgid=message["msgid"],
            expected={"infcode": 0, "setl_id": first.output["setlinfo"]["setl_id"]},
            actual={
                "infcode": again.infcode,
                "err_msg": again.err_msg,
                "setl_id": (again.output or {}).get("setlinfo", {}).get("setl_id"),
            },
        )
    episode.settlement = first.output
    succeed(lambda: his.cancel_settlement(episode))  # one cancellation undoes everything if it settled once
    quote = succeed(lambda: his.presettle(episode))
    same_money("撤销一次后重新预结算应与首次预结算相同（重发未重复结算）", quoted, quote, "R-IDEM-01")
    succeed(lambda: his.settle(episode))


@case("JT-REL-002")
def test_a_msgid_reused_with_other_content_is_refused(sut: Sut, joint_case: Case) -> None:
    his, episode = presettled(sut, joint_case)
    message = settlement_message(his, episode)
    first = sent(his, message)
    data = his.adapter.to_base("2304", "input", message["input"])["data"]  # in the base shapes
    changed = {**data, "acct_used_flag": "0" if data["acct_used_flag"] == "1" else "1"}
    other = {**message, "input": his.adapter.to_wire("2304", "input", {"data": changed})}
    refused(lambda: his.send(other), "E6001", "R-IDEM-01")
    again = his.send(message)
    if again.body != first.body:
        fail(
            "被拒的异内容报文之后，原报文重发应仍返回首次应答",
            rule="R-IDEM-01",
            infno="2304",
            msgid=message["msgid"],
            expected=first.body,
            actual=again.body,
        )


# ── reversal (2601, R-REV-01..03) ──────────────────────────────────


@case("JT-REL-003")
def test_a_lost_settlement_answer_is_reversed_and_the_visit_settles_again(sut: Sut, joint_case: Case) -> None:
    his, episode = presettled(sut, joint_case)
    quoted = dict(episode.presettlement["setlinfo"])  # type: ignore[index]
    message = settlement_message(his, episode)
    his.send(message)  # the answer is lost on its way to the HIS: the platform settled, the HIS never knew
    succeed(lambda: his.reverse(episode, str(message["msgid"]), "2304"))  # the HIS reverses by msgid
    again = succeed(lambda: his.settle(episode, reverse_lost=False))
    same_money("冲正后重新结算应与预结算相同（丢失应答的结算已全部撤销）", quoted, again, "R-REV-01")


@case("JT-REL-004")
def test_2601_reverses_an_admission(sut: Sut, joint_case: Case) -> None:
    his, card = sut.his(joint_case.hospital), sut.card(joint_case.person)
    episode = read_card(his, card)
    admission = succeed(lambda: admit(his, episode, card))
    succeed(lambda: his.reverse(episode, admission.msgid, "2401"))
    refused(lambda: his.upload_fees(episode, sut.items(joint_case.hospital, 1))[0], "E4002", "R-REV-01")
    readmitted = read_card(his, card)  # the person is no longer in hospital: a new admission is accepted
    succeed(lambda: admit(his, readmitted, card))
    close_stay(his, readmitted)


@case("JT-REL-005")
def test_2601_reverses_a_settlement(sut: Sut, joint_case: Case) -> None:
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    first = dict(episode.settlement["setlinfo"])  # type: ignore[index]
    succeed(lambda: his.reverse(episode, episode.settle_msgid, "2304"))
    again = succeed(lambda: his.settle(episode))
    same_money("冲正后重新结算应与原结算相同（年度累计已回退）", first, again, "R-REV-01")


@case("JT-REL-006")
def test_2601_reverses_a_settlement_cancellation(sut: Sut, joint_case: Case) -> None:
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    setl_id = str(episode.settlement["setlinfo"]["setl_id"])  # type: ignore[index]
    cancellation = succeed(lambda: his.cancel_settlement(episode))
    succeed(lambda: his.reverse(episode, cancellation.msgid, "2305"))
    stands(his, episode, setl_id, "R-REV-01")


def outpatient(sut: Sut, case: Case) -> tuple[His, Episode, str]:
    """1101 → 2201 → 2203 → 2204 → 2206 → 2207; the charge batch settled."""
    his = sut.his(case.hospital)
    try:
        episode = his.outpatient_visit(sut.card(case.person), sut.items(case.hospital, 3))
    except Refused as e:
        unexpected_refusal(e)
    last = episode.replies[-1]
    return (
        his,
        episode,
        str(his.adapter.to_base(last.infno, "input", last.request["input"])["data"]["chrg_bchno"]),
    )


@case("JT-REL-007")
def test_2601_reverses_an_outpatient_settlement(sut: Sut, joint_case: Case) -> None:
    his, episode, batch = outpatient(sut, joint_case)
    first = dict(episode.settlement["setlinfo"])  # type: ignore[index]
    succeed(lambda: his.reverse(episode, episode.settle_msgid, "2207"))
    again = succeed(lambda: his.outpatient_settle(episode, batch))
    same_money("冲正后重新结算门诊应与原结算相同", first, again, "R-REV-01")


@case("JT-REL-008")
def test_2601_reverses_an_outpatient_settlement_cancellation(sut: Sut, joint_case: Case) -> None:
    his, episode, _ = outpatient(sut, joint_case)
    setl_id = str(episode.settlement["setlinfo"]["setl_id"])  # type: ignore[index]
    data = {"setl_id": setl_id, "mdtrt_id": episode.mdtrt_id, "psn_no": episode.psn_no}
    cancellation = succeed(lambda: his.call("2208", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs))
    succeed(lambda: his.reverse(episode, cancellation.msgid, "2208"))
    stands(his, episode, setl_id, "R-REV-01")


@case("JT-REL-009")
def test_2601_of_what_cannot_be_reversed_is_refused(sut: Sut, joint_case: Case) -> None:
    his, card = sut.his(joint_case.hospital), sut.card(joint_case.person)
    episode = read_card(his, card)

    def reverse(omsgid: str, oinfno: str) -> Reply:
        data = {"psn_no": episode.psn_no, "omsgid": omsgid, "oinfno": oinfno}
        return his.call("2601", {"data": data}, insuplc_admdvs=episode.insuplc_admdvs, check=False)

    never_sent = f"{joint_case.hospital}20260101000000" + "9999"
    refused(lambda: reverse(never_sent, "2304"), "E6002", "R-REV-01")
    sign_in = succeed(lambda: his.call("9001", {"signIn": his.node("9001", "signIn", opter_no=his.opter)}))
    his.sign_no = sign_in.output["signinoutb"]["sign_no"]
    refused(lambda: reverse(sign_in.msgid, "9001"), "E6003", "R-REV-02")
    admission = succeed(lambda: admit(his, episode, card))
    succeed(lambda: reverse(admission.msgid, "2401"))
    refused(lambda: reverse(admission.msgid, "2401"), "E6004", "R-REV-03")


# ── concurrency (R-CONC-01) ────────────────────────────────────────


@case("JT-REL-010")
def test_two_settlements_of_one_visit_at_once_settle_once(sut: Sut, joint_case: Case) -> None:
    his, episode = presettled(sut, joint_case)
    messages = [settlement_message(his, episode) for _ in range(2)]
    replies: list[Reply] = []
    start = threading.Barrier(2)

    def send(message: dict[str, Any]) -> None:
        start.wait()
        replies.append(his.send(message))

    # yidi's hub, slowed, keeps the first settlement in flight while the second arrives; a system of one's
    # own is raced as it is
    with fault(sut, "latency:hub=1") if sut.builtin else nullcontext():
        threads = [threading.Thread(target=send, args=(m,)) for m in messages]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    winners = [r for r in replies if r.ok]
    if len(winners) != 1:
        fail(
            f"同一就诊{episode.mdtrt_id}的两笔并发结算应恰好一笔成功，实际{len(winners)}笔成功",
            rule="R-CONC-01",
            infno="2304",
            expected={"成功": 1},
            actual={r.msgid: {"infcode": r.infcode, "err_msg": r.err_msg} for r in replies},
        )
    loser = next(r for r in replies if not r.ok)
    # refused as a conflict while the first is in flight, or as settled once it is done: the race decides
    refused(lambda: loser, "E6005" if sut.builtin else "E6005|E4002", "R-CONC-01")
    episode.settlement = winners[0].output
    stands(his, episode, str(winners[0].output["setlinfo"]["setl_id"]), "R-CONC-01")


# ── the insured side or the hub failing (R-ROUTE-02) ───────────────


@case("JT-REL-011")
def test_an_insured_side_failure_is_relayed_and_leaves_nothing(sut: Sut, joint_case: Case) -> None:
    injectable(sut)  # before the stay begins: a skip must leave no stay open
    his, episode = presettled(sut, joint_case)
    quoted = dict(episode.presettlement["setlinfo"])  # type: ignore[index]
    with fault(sut, "insured-error:Y2304"):
        failed = answer_of(lambda: his.settle(episode, reverse_lost=False))
    if failed.infcode != -1:
        fail(
            f"参保地应答-1时就医地应原样转发infcode=-1，实际{failed.infcode}",
            rule="R-ROUTE-02",
            on=failed,
            expected={"infcode": -1},
            actual={"infcode": failed.infcode, "err_msg": failed.err_msg},
        )
    again = succeed(
        lambda: his.settle(episode, reverse_lost=False)
    )  # nothing held: the visit settles at once
    same_money("参保地恢复后结算应与预结算相同（失败的结算未留下任何数据）", quoted, again, "R-ROUTE-02")


@case("JT-REL-012")
def test_a_hub_outage_is_refused_clearly_and_leaves_nothing(sut: Sut, joint_case: Case) -> None:
    injectable(sut)  # before the stay begins: a skip must leave no stay open
    his, episode = presettled(sut, joint_case)
    quoted = dict(episode.presettlement["setlinfo"])  # type: ignore[index]
    with fault(sut, "hub-outage"):
        outage = refused(lambda: his.settle(episode, reverse_lost=False), "E6008", "R-ROUTE-02")
    if outage.infcode != -1:
        fail(
            f"国家平台不可用应答infcode应为-1（HIS据此冲正重试），实际{outage.infcode}",
            rule="R-ROUTE-02",
            on=outage,
            expected={"infcode": -1},
            actual={"infcode": outage.infcode, "err_msg": outage.err_msg},
        )
    housekeeping(sut)  # the hub is back: the platform reverses the stranded claim
    again = succeed(lambda: his.settle(episode, reverse_lost=False))
    same_money("国家平台恢复后结算应与预结算相同（中断时未留下半完成的结算）", quoted, again, "R-ROUTE-02")


# ── JT-REL-013: a change anywhere in a message under a reused msgid ──


def resent_changed(his: His, first: Reply, changed: Mapping[str, Any], where: str) -> None:
    """The message of ``first`` under its msgid with ``changed`` input (base shapes) is refused (E6001),
    and the original message sent again still gets its first answer."""
    other = his.message(
        first.infno, changed, insuplc_admdvs=first.request["insuplc_admdvs"], msgid=first.msgid
    )
    reply = his.send(other)
    if reply.ok and reply.body == first.body:
        fail(
            f"同一报文ID{first.msgid}、{where}不同的报文被当作重发，返回了首次应答：报文ID的比对应覆盖全部输入节点与每一行",
            rule="R-IDEM-01",
            on=reply,
            expected={"infcode": "-2", "err_msg": "[E6001]…"},
            actual={"infcode": reply.infcode, "output": "与首次应答相同"},
        )
    refused(lambda: reply, "E6001", "R-IDEM-01")
    again = his.send(first.request)
    if again.body != first.body:
        fail(
            "被拒的异内容报文之后，原报文重发应仍返回首次应答",
            rule="R-IDEM-01",
            on=again,
            expected=first.body,
            actual=again.body,
        )


@case("JT-REL-013")
def test_a_msgid_reused_with_a_change_in_any_node_or_row_is_refused(sut: Sut, joint_case: Case) -> None:
    his, episode = admitted(sut, joint_case.person, joint_case.hospital)
    try:
        uploads = succeed(lambda: his.upload_fees(episode, sut.items(joint_case.hospital, 3))[0])
        rows = his.adapter.to_base("2301", "input", uploads.request["input"])["feedetail"]
        last = {**rows[-1], "cnt": 2, "det_item_fee_sumamt": round(2 * float(rows[-1]["pric"]), 2)}
        resent_changed(his, uploads, {"feedetail": [*rows[:-1], last]}, "最后一条费用明细的数量")
        discharge = succeed(lambda: his.discharge(episode))
        nodes = his.adapter.to_base("2402", "input", discharge.request["input"])
        diagnosis = [{**nodes["diseinfo"][0], "diag_name": f"{nodes['diseinfo'][0]['diag_name']}（复诊）"}]
        resent_changed(his, discharge, {**nodes, "diseinfo": diagnosis}, "诊断信息节点diseinfo")
    finally:
        close_stay(his, episode)


# ── details after the fact (事后传明细, R-DTL-01) ────────────────────


@case("JT-REL-014")
def test_details_after_the_fact_wait_while_the_insured_side_is_away(sut: Sut, joint_case: Case) -> None:
    injectable(sut)  # what the insured side received is seen at yidi's own simulators only
    insured = received_by_insured_side(sut)
    away = f"insured-outage:{sut.world.person(joint_case.person).insuplc_admdvs[:2]}0000/Y2301"  # type: ignore[union-attr]
    with fault(sut, away):  # from before the settlement: no background round sends its details early
        _, episode = settled(sut, joint_case.person, joint_case.hospital)
        housekeeping(sut)  # a round of details while the insured side is away
    setl_id = str(episode.settlement["setlinfo"]["setl_id"])  # type: ignore[index]
    uploaded = {str(f["feedetl_sn"]): money.yuan(f["det_item_fee_sumamt"]) for f in episode.fees}
    early = insured(setl_id)
    if early:
        fail(
            f"参保地不可用期间不应有明细送达，实际收到{len(early)}条",
            rule="R-DTL-01",
            expected={"明细条数": 0},
            actual={"明细条数": len(early)},
        )
    for when in ("恢复后的一轮", "再一轮"):
        housekeeping(sut)
        arrived = insured(setl_id)
        if arrived != uploaded:
            fail(
                f"{when}事后传明细后，参保地应收到本次结算的全部{len(uploaded)}条明细，每条一次，"
                f"金额与HIS上传的一致；实际{len(arrived)}条",
                rule="R-DTL-01",
                expected={"明细": {sn: float(v) for sn, v in uploaded.items()}},
                actual={"明细": {sn: float(v) for sn, v in arrived.items()}},
            )


def received_by_insured_side(sut: Sut) -> Callable[[str], dict[str, Any]]:
    """The fee lines yidi's insured provinces (behind the SUT) hold for a settlement: feedetl_sn → amount."""
    if sut.served is None:
        pytest.skip("本用例需读取yidi模拟的参保地所收明细，仅yidi模拟器支持（--sut-url builtin）")
    store = sut.served.sim.store

    def lines(setl_id: str) -> dict[str, Any]:
        with store.read() as conn:
            rows = conn.execute(select(details.c.line).where(details.c.setl_id == setl_id)).scalars()
            return {str(line["feedetl_sn"]): money.yuan(line["det_item_fee_sumamt"]) for line in rows}

    return lines


@case("JT-REL-015")
def test_a_reversal_the_insured_side_never_got_leaves_the_settlement_standing(
    sut: Sut, joint_case: Case
) -> None:
    injectable(sut)  # before the stay begins: a skip must leave no stay open
    his, episode = settled(sut, joint_case.person, joint_case.hospital)
    first = dict(episode.settlement["setlinfo"])  # type: ignore[index]
    with fault(sut, "hub-outage:Y2601"):  # the claim is left reversing: nobody knows if it arrived
        failed = answer_of(lambda: his.reverse(episode, episode.settle_msgid, "2304"))
    if failed.ok:
        fail(
            "国家平台不可用时冲正不应应答成功",
            rule="R-ROUTE-02",
            on=failed,
            expected={"infcode": -1},
            actual={"infcode": failed.infcode},
        )
    housekeeping(sut)  # the platform recovers the stranded reversal
    stands(his, episode, str(first["setl_id"]), "R-REV-01")
    succeed(lambda: his.reverse(episode, episode.settle_msgid, "2304"))  # the HIS tries again
    again = succeed(lambda: his.settle(episode))
    same_money("冲正重发成功后重新结算应与原结算相同（参保地只回退一次）", first, again, "R-REV-01")
