"""Message conformance (报文规范) of a hospital HIS: every message of an episode signed, valid against the
spec, with a msgid of its own, and routed to the person's insured region."""

from __future__ import annotations

from collections import Counter

from ..plugin import case
from ..steps import fail
from .desk import Desk
from .steps import admitted, settled


@case("JT-CON-301")
def test_every_message_of_an_episode_is_signed_valid_and_routed(desk: Desk) -> None:
    stay = admitted(desk)
    settled(desk, stay)  # each message was judged as it came: x-tif signature, card_sn, the spec, institution
    counts = Counter(s.msgid for s in desk.received)
    again = next((s for s in desk.received if counts[s.msgid] > 1), None)
    if again is not None:
        fail(
            f"报文ID在本次就医中被{counts[again.msgid]}笔报文使用：每笔新交易须用新报文ID",
            rule="R-IDEM-01",
            on=again,
            expected="每笔报文一个报文ID",
            actual=[s.label for s in desk.received if s.msgid == again.msgid],
        )
    for seen in desk.received:
        routed = (seen.message or {}).get("insuplc_admdvs")
        if seen.infno not in ("9001", "9002", "1101") and routed != stay.insuplc_admdvs:
            fail(
                f"参保地医保区划insuplc_admdvs应为【1101】返回的{stay.insuplc_admdvs}，实际{routed}",
                rule="R-ROUTE-01",
                on=seen,
                expected={"insuplc_admdvs": stay.insuplc_admdvs},
                actual={"insuplc_admdvs": routed},
            )
