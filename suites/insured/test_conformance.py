"""Conformance (接口规范符合性) cases against an insured-province platform: every answer of a whole
cross-province stay, as the national hub receives it, checked against the spec and its money rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ...actors.his import Reply
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import conforms, fail, succeed
from .client import Platform, admitted

SPLIT = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
FUNDS = ("act_pay_dedc", "hifp_pay", "hifob_pay", "hifmi_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay")


@case("JT-CON-101")
def test_every_answer_of_a_stay_conforms(sut: Sut, hub: Callable[[str], Platform], joint_case: Case) -> None:
    relay = hub(joint_case.hospital)
    visit = admitted(relay, sut.card(joint_case.person), joint_case.hospital)
    pre = succeed(lambda: relay.presettle(visit)).output["setlinfo"]
    settled = succeed(lambda: relay.settle(visit))
    cancelled = succeed(lambda: relay.cancel(visit))
    succeed(lambda: relay.cancel_admission(visit))
    on_base = dataclasses.replace(sut, spec=relay.spec)  # the hub interface has no regional shapes
    for reply in list(sut.exchanged):
        conforms(on_base, reply)
    s = settled.output["setlinfo"]
    differ(pre, s, SPLIT + FUNDS, "结算金额应与预结算【Y2303】一致", rule="R-AMT-10", on=settled)
    negated = {k: -v if v else v for k, v in s.items() if k in SPLIT + FUNDS}
    differ(
        negated,
        cancelled.output["setlinfo"],
        SPLIT + FUNDS,
        "撤销应答各金额应为原结算的相反数",
        rule="R-AMT-11",
        on=cancelled,
    )


def differ(
    want: dict[str, Any], got: dict[str, Any], keys: tuple[str, ...], why: str, *, rule: str, on: Reply
) -> None:
    """Fail with ``why`` (rule ``rule``, answer ``on``) when ``got`` differs from ``want`` on any of
    ``keys`` (to the cent)."""
    changed = [k for k in keys if round(float(want.get(k) or 0), 2) != round(float(got.get(k) or 0), 2)]
    if changed:
        fail(
            why,
            rule=rule,
            on=on,
            expected={k: want.get(k) for k in changed},
            actual={k: got.get(k) for k in changed},
        )
