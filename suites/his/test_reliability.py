"""Reliability (可靠性) at a hospital HIS: a settlement whose answer is lost is resent under its msgid or
reversed (2601) and settled again, never settled anew under another msgid."""

from __future__ import annotations

from ..plugin import Sut, case
from ..steps import fail, fault
from .desk import Desk, Seen
from .steps import admitted, discharged, totals_match

LOST = "。平台将丢弃该笔结算的应答（模拟网络中断）：HIS应以原报文ID重发，或冲正【2601】后重新结算"


@case("JT-REL-301")
def test_a_lost_settlement_answer_is_resent_or_reversed_never_settled_anew(sut: Sut, desk: Desk) -> None:
    stay = admitted(desk)
    with fault(sut, desk.answer_dropped("2304")):
        discharged(desk, stay, lost_answer=LOST)
        lost = desk.next("2304") or desk.nothing_came("【2304】医保结算")
    totals_match(desk, stay)(lost)
    if not lost.lost:  # the platform's fault did not fire: the case proves nothing
        fail(
            "平台应丢弃其应答，实际已应答（测试环境问题）",
            rule=None,
            on=lost,
            expected="应答丢失",
            actual=lost.answer,
        )
    reversal: Seen | None = None
    while True:
        seen = desk.next("2304", "2601") or desk.nothing_came(*still_wanted(lost, reversal), rule="R-REV-01")
        if seen.infno == "2601":
            desk.same(seen, "冲正的原交易", "R-REV-01", {"omsgid": lost.msgid, "oinfno": "2304"})
            desk.accepted(seen)
            reversal = seen
            continue
        if seen.msgid != lost.msgid and reversal is None:
            fail(
                f"HIS在结算{lost.msgid}应答丢失后换用新报文ID再次结算，且未冲正原交易："
                "同一笔结算应以原报文ID重发，或先冲正【2601】，否则可能重复结算",
                rule="R-IDEM-01",
                on=seen,
                expected={"msgid": lost.msgid, "或先发送": f"【2601】omsgid={lost.msgid}"},
                actual={"msgid": seen.msgid},
            )
        totals_match(desk, stay)(seen)
        desk.accepted(seen)
        return


def still_wanted(lost: Seen, reversal: Seen | None) -> tuple[str, str]:
    """What the HIS owes after the lost answer: a resend or a reversal; after a reversal, the settlement."""
    if reversal is None:
        return "【2304】原报文ID重发或【2601】冲正", f"：{lost.label}应答丢失后，HIS应重发或冲正"
    return "【2304】医保结算", f"：{reversal.label}冲正后应重新结算"
