"""Settlement (结算) at a hospital HIS: discharge, pre-settlement and settlement at the uploaded total;
cancellation of the settlement the platform answered."""

from __future__ import annotations

from ..plugin import case
from .desk import Clerk, Desk
from .steps import admitted, settled


@case("JT-SET-301")
def test_discharge_presettlement_and_settlement_claim_the_uploaded_fees(desk: Desk) -> None:
    settled(desk, admitted(desk))  # 2402 → 2303 → 2304 of the visit, medfee_sumamt = the 2301 lines


@case("JT-SET-302")
def test_a_settlement_is_cancelled_by_the_setl_id_the_platform_answered(desk: Desk) -> None:
    stay = admitted(desk)
    setlinfo = settled(desk, stay).output["setlinfo"]
    desk.instruct(
        f"请在HIS撤销{desk.who}的本次结算【2305】", robot=Clerk.cancel_settlement, do="cancel_settlement"
    )
    desk.expect(
        "2305",
        check=lambda s: desk.same(
            s,
            "撤销的结算与【2304】应答",
            "R-LIFE-01",
            {"setl_id": setlinfo["setl_id"], "mdtrt_id": stay.mdtrt_id, "psn_no": stay.psn_no},
        ),
    )
