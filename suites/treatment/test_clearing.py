"""Monthly clearing of remote patients (异地清分) against a treatment-province platform: 3260 extract, 3261
confirm or leave out, 3262 undo.

Every case works on its own settlements only (other cases settle at the same hospitals in the same month):
the rows it confirms are those of its own setl_ids, and it undoes by otransid, never everything ('0').
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...actors.his import Episode, His, Reply
from ...specs.money import yuan
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import accepted, clock, episode_to_discharge, fail, refused, settled, succeed

SECOND = {"L00001": "L00015", "L00008": "L00016"}  # the other insured person of the two-stay cases


def month(reply: Reply) -> str:
    """The month the platform booked the settlement in (its own clock: the answer's refmsg_time)."""
    return str(reply.body["refmsg_time"])[:6]


def rows(his: His, the_month: str, episodes: Iterable[Episode]) -> list[dict[str, Any]]:
    """【3260】, every page: the rows of these episodes' settlements."""
    mine = {str(e.settlement["setlinfo"]["setl_id"]) for e in episodes if e.settlement}
    found = accepted(lambda: his.clearing_rows(the_month), "R-CLR-02", "提取本院本月异地清分明细应成功")
    return [r for r in found if r["setl_sn"] in mine]


def row_of(found: list[dict[str, Any]], settlement: Reply, *, cancelled: bool = False) -> dict[str, Any]:
    setl_id = str(settlement.output["setlinfo"]["setl_id"])
    sign = -1 if cancelled else 1
    match = [r for r in found if r["setl_sn"] == setl_id and sign * yuan(r["medfee_sumamt"]) > 0]
    if len(match) != 1:
        what = "撤销" if cancelled else "结算"
        fail(
            f"清分明细中结算流水号{setl_id}的{what}行应恰有1行，实际{len(match)}行",
            rule="R-CLR-02",
            infno="3260",
            expected={"setl_sn": setl_id, "rows": 1},
            actual={"rows": len(match)},
        )
    return match[0]


def same_amounts(row: dict[str, Any], settlement: Reply, sign: int = 1) -> None:
    s = settlement.output["setlinfo"]
    expected = {
        "medfee_sumamt": sign * yuan(s["medfee_sumamt"]),
        "optins_pay_sumamt": sign * yuan(s["fund_pay_sumamt"]),
    }
    actual = {k: yuan(row[k]) for k in expected}
    if actual != expected:
        fail(
            f"清分明细{row['setl_sn']}的金额应与结算【2304】{settlement.msgid}的应答一致",
            rule="R-CLR-02",
            infno="3260",
            expected=expected,
            actual=actual,
        )


def settle(sut: Sut, person: str, hospital: str) -> tuple[His, Episode, Reply]:
    his, episode = settled(sut, person, hospital)
    return his, episode, episode.replies[-1]


@case("JT-CLR-001")
def test_the_extract_lists_the_months_settlements_and_cancellations(sut: Sut, joint_case: Case) -> None:
    his, first, settlement = settle(sut, joint_case.person, joint_case.hospital)
    _, second, other = settle(sut, SECOND[joint_case.person], joint_case.hospital)
    succeed(lambda: his.cancel_settlement(second))
    found = rows(his, month(settlement), [first, second])
    same_amounts(row_of(found, settlement), settlement)
    same_amounts(row_of(found, other), other)
    same_amounts(row_of(found, other, cancelled=True), other, sign=-1)


@case("JT-CLR-002")
def test_a_confirmed_row_cannot_be_confirmed_again(sut: Sut, joint_case: Case) -> None:
    his, episode, settlement = settle(sut, joint_case.person, joint_case.hospital)
    the_month = month(settlement)
    row = row_of(rows(his, the_month, [episode]), settlement)
    succeed(lambda: his.confirm_clearing(the_month, [row]))
    refused(lambda: his.confirm_clearing(the_month, [row]), "E7006", "R-CLR-02")


@case("JT-CLR-003")
def test_a_left_out_row_can_be_confirmed_and_an_undo_takes_back_only_its_own(
    sut: Sut, joint_case: Case
) -> None:
    his, first, settlement = settle(sut, joint_case.person, joint_case.hospital)
    _, second, other = settle(sut, SECOND[joint_case.person], joint_case.hospital)
    the_month = month(settlement)
    found = rows(his, the_month, [first, second])
    a, b = row_of(found, settlement), row_of(found, other)
    succeed(lambda: his.confirm_clearing(the_month, [a], confirm=False))  # left out of this clearing
    succeed(lambda: his.confirm_clearing(the_month, [a]))  # and taken in after all
    confirmed_b = succeed(lambda: his.confirm_clearing(the_month, [b]))
    succeed(lambda: his.undo_clearing(the_month, str(confirmed_b.body["inf_refmsgid"])))
    succeed(lambda: his.confirm_clearing(the_month, [b]))  # undone: b may be confirmed again
    refused(lambda: his.confirm_clearing(the_month, [a]), "E7006", "R-CLR-02")  # a was not undone


@case("JT-CLR-006")
def test_confirming_a_settlement_again_leaves_its_cancellations_confirmation(
    sut: Sut, joint_case: Case
) -> None:
    his, episode, settlement = settle(sut, joint_case.person, joint_case.hospital)
    succeed(lambda: his.cancel_settlement(episode))
    the_month = month(settlement)
    found = rows(his, the_month, [episode])
    settled_row, cancelled_row = row_of(found, settlement), row_of(found, settlement, cancelled=True)
    succeed(lambda: his.confirm_clearing(the_month, [cancelled_row]))
    succeed(lambda: his.confirm_clearing(the_month, [settled_row], confirm=False))  # left out
    succeed(lambda: his.confirm_clearing(the_month, [settled_row]))  # and taken in after all
    # one settlement id, two rows: the cancellation's confirmation is its own and still stands
    refused(lambda: his.confirm_clearing(the_month, [cancelled_row]), "E7006", "R-CLR-02")


@case("JT-CLR-004")
def test_a_row_with_other_amounts_is_refused_by_name(sut: Sut, joint_case: Case) -> None:
    his, episode, settlement = settle(sut, joint_case.person, joint_case.hospital)
    the_month = month(settlement)
    row = row_of(rows(his, the_month, [episode]), settlement)
    wrong = {**row, "optins_pay_sumamt": float(yuan(row["optins_pay_sumamt"]) + 1)}
    reply = refused(lambda: his.confirm_clearing(the_month, [wrong]), "E7005", "R-CLR-02")
    if row["setl_sn"] not in reply.err_msg or "optins_pay_sumamt" not in reply.err_msg:
        fail(
            f"err_msg应指明结算流水号{row['setl_sn']}与字段optins_pay_sumamt",
            rule=None,
            on=reply,
            expected={"err_msg": f"…{row['setl_sn']}…optins_pay_sumamt…"},
            actual={"err_msg": reply.err_msg},
        )


# ── JT-CLR-005: after a reversal, and in the month's last second ──


def extract(his: His, the_month: str) -> list[dict[str, Any]]:
    """【3260】 every page of the month, expected to succeed."""
    return accepted(lambda: his.clearing_rows(the_month), "R-CLR-02", "提取异地清分明细【3260】应成功")


@case("JT-CLR-005")
def test_a_reversed_settlement_is_left_out_and_the_last_second_counts_in_its_month(
    sut: Sut, joint_case: Case
) -> None:
    year = (sut.world.clock.year if sut.world.clock else 2026) + 1
    may, june = f"{year}05", f"{year}06"
    with clock(sut) as move:
        move(f"{year}-05-20T10:00:00")
        his, episode = episode_to_discharge(sut, joint_case.person, joint_case.hospital)
        reversed_ = succeed(lambda: his.settle(episode))
        omsgid = episode.settle_msgid
        accepted(lambda: his.reverse(episode, omsgid, "2304"), "R-REV-01", f"冲正结算【2304】{omsgid}应成功")
        move(f"{year}-05-31T23:59:59.500", freeze=True)  # the month's very last second
        last = succeed(lambda: his.settle(episode))
        move(f"{year}-06-01T10:00:00")
        found = {m: extract(his, m) for m in (may, june)}
    gone = str(reversed_.output["setlinfo"]["setl_id"])
    kept = [r for r in found[may] if r["setl_sn"] == gone]
    if kept:
        fail(
            f"结算{gone}已冲正【2601】，不应列入{may}清分明细，实际{len(kept)}行",
            rule="R-CLR-02",
            infno="3260",
            expected={"setl_sn": gone, "rows": 0},
            actual={"rows": kept},
        )
    same_amounts(row_of(found[may], last), last)  # settled at 23:59:59.5 on the last day: May's, once
    setl_id = str(last.output["setlinfo"]["setl_id"])
    if any(r["setl_sn"] == setl_id for r in found[june]):
        fail(
            f"结算{setl_id}属于{may}，不应再列入{june}清分明细",
            rule="R-CLR-02",
            infno="3260",
            expected={"setl_sn": setl_id, "month": may},
            actual={"month": june},
        )
