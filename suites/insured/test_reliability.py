"""Reliability (可靠性) cases against an insured-province platform: retries and reversals as the national
hub relays them when a treatment province lost an answer, and two settlements of one person at once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import (
    MONEY,
    accepted,
    added_by,
    answered,
    counters_are,
    fail,
    refused,
    running_totals,
    succeed,
)
from .client import Platform, Visit, admitted, ok, resent_changed


def balance(relay: Platform, card: dict[str, Any], hospital: str) -> Decimal:
    """The personal account's balance as the insured platform reports it (Y1101 insuinfo.balc)."""
    reply = ok(relay.person_info(card, "02", hospital))
    return Decimal(str(reply.output["insuinfo"][0]["balc"]))


@case("JT-REL-101")
def test_a_retried_settlement_gets_the_first_answer_and_pays_once(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay, card = hub(joint_case.hospital), sut.card(joint_case.person)
    before = balance(relay, card, joint_case.hospital)
    visit = admitted(relay, card, joint_case.hospital)
    first = succeed(lambda: relay.settle(visit))
    retry = relay.send(first.request)  # the same msgid and content: the treatment side never got the answer
    if not retry.ok or retry.output != first.output:
        fail(
            "同一报文ID重发应返回首次应答，实际应答不同",
            rule="R-IDEM-01",
            on=first,
            expected={k: first.output["setlinfo"].get(k) for k in MONEY},
            actual={"infcode": retry.infcode, "err_msg": retry.err_msg}
            if not retry.ok
            else {k: retry.output["setlinfo"].get(k) for k in MONEY},
        )
    paid = Decimal(str(first.output["setlinfo"]["acct_pay"]))
    after = balance(relay, card, joint_case.hospital)
    if after != before - paid:
        fail(
            f"重发结算后个人账户应只扣减一次：原余额{before}，本次账户支付{paid}",
            rule="R-IDEM-01",
            infno="Y1101",
            expected={"balc": f"{before - paid}"},
            actual={"balc": f"{after}"},
        )


@case("JT-REL-102")
def test_a_reversed_settlement_is_rolled_back_once(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital)
    first = succeed(lambda: relay.settle(visit))
    ok(relay.reverse(visit, first.msgid, "Y2304"))
    again = succeed(lambda: relay.settle(visit))
    changed = {
        k: (first.output["setlinfo"].get(k), again.output["setlinfo"].get(k))
        for k in MONEY
        if first.output["setlinfo"].get(k) != again.output["setlinfo"].get(k)
    }
    if changed:
        fail(
            "冲正【Y2601】后再次结算，金额应与原结算一致（年度累计应回退）",
            rule="R-REV-01",
            on=again,
            expected={k: v[0] for k, v in changed.items()},
            actual={k: v[1] for k, v in changed.items()},
        )
    refused(lambda: relay.reverse(visit, first.msgid, "Y2304"), "E6004", "R-REV-03")


@case("JT-REL-103")
def test_a_settlement_msgid_reused_with_a_later_row_changed_is_refused(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital)
    resent_changed(relay, succeed(lambda: relay.settle(visit)))


@case("JT-REL-104")
def test_two_settlements_of_one_person_at_once_lose_no_usage(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay, card = hub(joint_case.hospital), sut.card(joint_case.person)
    first, *stays = [admitted(relay, card, joint_case.hospital, lines=6) for _ in range(3)]
    # the year's deductible met first: the two at once then cost the same whichever the platform takes
    # first, so the money follower need not know its order; no account either, for the same reason
    succeed(lambda: relay.settle(first, use_account=False))
    before = ok(relay.totals(stays[0]))
    claims = [relay.claim(stay, "Y2304", use_account=False) for stay in stays]
    # sent from two threads by a twin that keeps its answers apart: the money follower (suites/follow.py)
    # then sees them one by one, as they came back
    twin = replace(relay, into=[])
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(twin.send, claims))
    for reply in twin.into:
        relay.into.append(reply)
    settled = [a for a in answers if a.ok]
    if not settled:
        fail(
            "同一人员同时到达的两笔结算【Y2304】应至少成功一笔",
            rule="R-CONC-01",
            on=answers[0],
            expected={"infcode": 0},
            actual=[{"infcode": a.infcode, "err_msg": a.err_msg} for a in answers],
        )
    after = ok(relay.totals(stays[0]))
    was, added = running_totals(before), added_by(a.output for a in settled)
    counters_are(
        f"同时到达的两笔结算（成功{len(settled)}笔）之后，人员累计信息【Y5206】",
        running_totals(after),
        {code: was.get(code, Decimal(0)) + by for code, by in added.items()},
        after,
    )


def year_so_far(relay: Platform, visit: Visit) -> dict[str, Decimal]:
    """The person's totals this year (Y5206 of this month), which must be answered."""
    reply = accepted(lambda: relay.checked(relay.totals(visit)), "R-QRY-04", "查询本年度累计【Y5206】应成功")
    return running_totals(reply)


@case("JT-REL-105")
def test_a_reversed_cancellation_makes_the_settlement_stand_again(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    person, hospital = joint_case.person, joint_case.hospital
    neighbour, where = sut.cast("P07", "H50000000001")  # insured in the same province, its settlement stands
    beside = hub(where)
    standing = admitted(beside, sut.card(neighbour), where)
    succeed(lambda: beside.settle(standing))
    relay, card = hub(hospital), sut.card(person)
    was = balance(relay, card, hospital)
    visit = admitted(relay, card, hospital)
    before = year_so_far(relay, visit)
    settled = succeed(lambda: relay.settle(visit))
    cancellation = succeed(lambda: relay.cancel(visit))
    reversal = accepted(
        lambda: relay.checked(relay.reverse(visit, cancellation.msgid, "Y2305")),
        "R-REV-01",
        f"冲正结算撤销【Y2305】{cancellation.msgid}应成功",
    )
    expected = {k: before.get(k, Decimal(0)) + v for k, v in added_by([settled.output]).items()}
    counters_are(
        "冲正结算撤销后，人员累计信息【Y5206】（结算恢复有效）", year_so_far(relay, visit), expected, reversal
    )
    paid = {"balc": was - Decimal(str(settled.output["setlinfo"]["acct_pay"]))}
    counters_are(
        "冲正结算撤销后，个人账户余额【Y1101】", {"balc": balance(relay, card, hospital)}, paid, reversal
    )
    refused(lambda: relay.reverse(visit, cancellation.msgid, "Y2305"), "E6004", "R-REV-03")
    accepted(
        lambda: beside.cancel(standing),
        "R-REV-01",
        f"冲正只撤销原报文的数据：{neighbour}的结算不受影响，其后仍应可撤销【Y2305】",
    )
    accepted(lambda: relay.cancel(visit), "R-REV-01", "冲正结算撤销后结算恢复有效，应可再次撤销【Y2305】")


@case("JT-REL-106")
def test_details_after_the_fact_sent_twice_are_kept_once(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital, lines=14)
    succeed(lambda: relay.settle(visit))
    rows = relay.details(visit, lines=14)  # the lines the settlement's category totals were made of
    first, second = rows[:7], rows[7:]
    kept: set[str] = set()
    for batch, what in (
        (first, "第一批"),
        (first, "第一批重发"),
        (second, "第二批"),
        (second, "第二批重发"),
        (rows, "全部明细重发"),
    ):
        reply = answered(
            relay.send_details(visit, batch, len(rows)), f"事后传明细【Y2301】{what}应成功", "R-DTL-01"
        )
        kept |= {str(r["feedetl_sn"]) for r in batch}
        totalrow = reply.output["result"]["totalrow"]
        if int(totalrow) != len(kept):
            fail(
                f"事后传明细【Y2301】{what}后，参保地已收明细行数应为{len(kept)}（按明细流水号计，重发的只计一次），"
                f"实际totalrow={totalrow}",
                rule="R-DTL-01",
                on=reply,
                expected={"totalrow": len(kept)},
                actual={"totalrow": totalrow},
            )


@case("JT-REL-107")
def test_details_of_two_settlements_are_counted_each_for_its_own(
    sut: Sut, hub: Callable[[str], Platform], joint_case: Case
) -> None:
    pairs = ((joint_case.person, joint_case.hospital), ("P49", "H50000000001"))  # one insured province
    stays = []
    for person, code in pairs:
        relay = hub(code)
        visit = admitted(relay, sut.card(person), code, lines=14)
        succeed(lambda: relay.settle(visit))  # noqa: B023 (called at once)
        stays.append((relay, visit))
    # the settlement with the greater setl_id first, all its lines; then the other's first three, whose
    # feedetl_sn (numbered per visit) are among the first one's: a lookup not keyed by setl_id mistakes them
    stays.sort(key=lambda s: str((s[1].settlement or {})["setlinfo"]["setl_id"]), reverse=True)
    for (relay, visit), lines in zip(stays, (14, 3), strict=True):
        rows = relay.details(visit, lines=14)[:lines]
        reply = answered(relay.send_details(visit, rows, 14), "事后传明细【Y2301】应成功", "R-DTL-01")
        totalrow = reply.output["result"]["totalrow"]
        if int(totalrow) != lines:
            fail(
                f"结算{visit.mdtrt_id}的事后传明细【Y2301】{lines}条后，参保地已收行数应为{lines}"
                f"（只计本结算的明细），实际totalrow={totalrow}",
                rule="R-DTL-01",
                on=reply,
                expected={"totalrow": lines},
                actual={"totalrow": totalrow},
            )
