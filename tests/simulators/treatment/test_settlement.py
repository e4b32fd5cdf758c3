"""What a treatment settlement sends, on its own (simulators/treatment/settlement.py): the fees it covers,
checked against the totals the hospital gives (E5002, E5001 R-AMT-07), and the claim that crosses to the
insured side: totals per 医疗收费项目类别, never the items (实时传大类)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from yidi.simulators.app import Simulation
from yidi.simulators.catalog import Split
from yidi.simulators.gateway import BusinessError
from yidi.simulators.treatment.settlement import Settlement
from yidi.simulators.treatment.visits import Visit
from yidi.specs.validate import validate

D = Decimal


def fee(type_: str, amount: str, split: tuple[str, str, str, str], status: str = "active", **kw: Any) -> Any:
    return {
        "status": status,
        "type": type_,
        "amount": amount,
        "split": list(split),
        "code": "XA01-ITEM",
        "name": "某药品",
        **kw,
    }


FEES = {
    "F1": fee("09", "100.00", ("0", "0", "10.00", "90.00"), batch="B1"),
    "F2": fee("09", "50.50", ("0", "0.50", "0", "50.00"), batch="B2"),
    "F3": fee("01", "300.00", ("300.00", "0", "0", "0"), batch="B1"),
    "F4": fee("01", "999.00", ("999.00", "0", "0", "0"), status="cancelled", batch="B1"),
}


def visit(kind: str = "inpatient", fees: dict[str, Any] | None = None) -> Visit:
    return Visit(
        SimpleNamespace(
            mdtrt_id="M1",
            psn_no="P1",
            state="discharged",
            version=1,
            fixmedins_code="H51010000001",
            insuplc_admdvs="500000",
            cross=True,
            kind=kind,
            doc={
                "history": [],
                "fees": dict(FEES if fees is None else fees),
                "med_type": "21",
                "begntime": "2026-11-20 09:00:00",
                "endtime": "2026-11-23 10:00:00",
                "hosp_lv": "01",
                "admdvs": "510100",
            },
        )
    )


@pytest.fixture
def settlement(sim: Simulation) -> Settlement:
    return Settlement(sim.treatment["510000"])


def test_the_fees_settled_are_the_live_ones_and_their_split_adds_up(settlement: Settlement) -> None:
    fees, split = settlement.totals(visit(), {"medfee_sumamt": 450.5})
    assert sorted(fees) == ["F1", "F2", "F3"]  # not the cancelled line
    assert split == Split(D("300.00"), D("0.50"), D("10.00"), D("140.00")) and split.total == D("450.50")


def test_an_outpatient_settlement_covers_its_own_batch(settlement: Settlement) -> None:
    fees, split = settlement.totals(visit("outpatient"), {"medfee_sumamt": 400, "chrg_bchno": "B1"})
    assert sorted(fees) == ["F1", "F3"] and split.total == D("400.00")
    assert sorted(settlement.totals(visit("outpatient"), {"medfee_sumamt": 450.5})[0]) == ["F1", "F2", "F3"]


def test_a_total_other_than_the_uploaded_fees_is_refused_E5002(
    settlement: Settlement, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BusinessError) as e:
        settlement.totals(visit(), {"medfee_sumamt": 450.49})
    assert e.value.code == "E5002" and e.value.values == {"medfee_sumamt": 450.49, "uploaded": "450.50"}
    monkeypatch.setattr(settlement.node.faults, "mutants", {"skip-fee-total-check"})
    assert settlement.totals(visit(), {"medfee_sumamt": 450.49})[1].total == D(
        "450.50"
    )  # the mutant skips it


def test_ranges_other_than_the_fee_split_are_refused_E5001_R_AMT_07(settlement: Settlement) -> None:
    ranges = {"fulamt_ownpay_amt": 300, "overlmt_selfpay": 0.5, "preselfpay_amt": 10, "inscp_scp_amt": 140}
    assert settlement.totals(visit(), {"medfee_sumamt": 450.5, **ranges})[1].inscp == D("140.00")
    moved = {**ranges, "preselfpay_amt": 10.01, "inscp_scp_amt": 139.99}  # same total, other split
    with pytest.raises(BusinessError) as e:
        settlement.totals(visit(), {"medfee_sumamt": 450.5, **moved})
    assert e.value.code == "E5001" and e.value.values["rule"] == "R-AMT-07"
    assert "10.01" in e.value.values["detail"] and "10.00" in e.value.values["detail"]
    # ranges given in part are not checked: the hospital need not send them
    assert settlement.totals(visit(), {"medfee_sumamt": 450.5, **moved, "inscp_scp_amt": ""})


def test_a_claim_carries_totals_per_fee_category_never_the_items(
    sim: Simulation, settlement: Settlement
) -> None:
    node = sim.treatment["510000"]
    v = visit()
    fees, split = settlement.totals(v, {"medfee_sumamt": 450.5})
    data = {"insutype": "310", "psn_setlway": "01", "acct_used_flag": "1"}
    request = settlement.claim_request(node.hub, v, data, fees, split, "Y2304", "S1", "MSG1")  # type: ignore[arg-type]
    setlinfo, feecate = request["input"]["setlinfo"], request["input"]["feecate"]
    assert feecate == [
        {
            "med_chrgitm_type": "01",
            "det_item_fee_sumamt": 300.0,
            "fulamt_ownpay_amt": 300.0,
            "overlmt_amt": 0.0,
            "preselfpay_amt": 0.0,
            "inscp_scp_amt": 0.0,
        },
        {
            "med_chrgitm_type": "09",
            "det_item_fee_sumamt": 150.5,
            "fulamt_ownpay_amt": 0.0,
            "overlmt_amt": 0.5,
            "preselfpay_amt": 10.0,
            "inscp_scp_amt": 140.0,
        },
    ]
    assert (setlinfo["medfee_sumamt"], setlinfo["fulamt_ownpay_amt"], setlinfo["inscp_scp_amt"]) == (
        450.5,
        300,
        140,
    )
    assert (setlinfo["setl_id"], setlinfo["medins_setl_id"], setlinfo["mid_setl_flag"]) == ("S1", "MSG1", "0")
    assert request["insuplc_admdvs"] == "500000" and request["infno"] == "Y2304"
    sent = orjson.dumps(request).decode()
    assert "XA01-ITEM" not in sent and "feedetl_sn" not in sent and "F1" not in sent  # no item crosses
    assert validate(sim.spec, request).valid
    trial = settlement.claim_request(node.hub, v, data, fees, split, "Y2303", None, None)  # type: ignore[arg-type]
    assert "setl_id" not in trial["input"]["setlinfo"] and validate(sim.spec, trial).valid
