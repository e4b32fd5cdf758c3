"""The insured side's settlement arithmetic on its own (simulators/insured/settlement.py): what a
cancellation or reversal answers (negate: every amount negated but the balance, R-AMT-11), and the year's
usage and the personal account a settlement moves and its undoing moves back (apply)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from yidi.simulators.app import Simulation
from yidi.simulators.benefits import Claim, Usage, settle
from yidi.simulators.catalog import Split
from yidi.simulators.insured.settlement import Settlement, amounts, negate
from yidi.specs.money import yuan

D = Decimal


@pytest.fixture
def answer(sim: Simulation) -> dict[str, Any]:
    """A Y2304 answer as the insured node makes it, for an employee paying from the account."""
    node = sim.insured["510000"]
    person = next(p for p in node.people.values() if p.insutype == "310" and p.account_balance > 0)
    split = Split(D("500"), D("100"), D("400"), D("9000"))
    day = datetime(2026, 11, 23, 9)
    result = settle(
        node.policy(person).on(day.date()),
        Claim(split.total, split, "3", use_account=True),
        person.patient(day.date()),
        Usage(),
        person.account_balance,
    )
    s = {
        "mdtrt_id": "M1",
        "setl_id": "S1",
        "medins_setl_id": "MSG1",
        "med_type": "21",
        "mdtrtarea_admdvs": "500100",
        "medfee_sumamt": 10000.0,
        "fulamt_ownpay_amt": 500.0,
        "overlmt_selfpay": 100.0,
        "preselfpay_amt": 400.0,
        "inscp_scp_amt": 9000.0,
    }
    return Settlement(node).settlement_output(person, s, result, day)


def test_a_cancellation_answers_every_amount_negated_but_the_balance(sim: Simulation, answer: Any) -> None:
    moved = amounts(sim.spec)
    assert "balc" not in moved and {"medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"} <= moved
    negative = negate(sim.spec, answer)
    for k, v in answer["setlinfo"].items():
        if k in moved and v:
            assert negative["setlinfo"][k] == -v, k
        else:  # the balance, ratios, names, times; a zero stays a plain zero, never -0.0
            assert negative["setlinfo"][k] == v, k
            assert not isinstance(v, float) or math.copysign(1, negative["setlinfo"][k]) == 1, k
    assert negative["setlinfo"]["balc"] == answer["setlinfo"]["balc"] != 0
    assert negative["setlinfo"]["pool_prop_selfpay"] == answer["setlinfo"]["pool_prop_selfpay"] > 0
    for line, original in zip(negative["setldetail"], answer["setldetail"], strict=True):
        assert (line["inscp_scp_amt"], line["fund_payamt"]) == (
            -original["inscp_scp_amt"],
            -original["fund_payamt"],
        )
        assert line["crt_payb_lmt_amt"] == original["crt_payb_lmt_amt"]  # what the fund could pay: a state
    s = negative["setlinfo"]
    assert (
        yuan(s["medfee_sumamt"]) == yuan(s["fund_pay_sumamt"]) + yuan(s["psn_part_amt"]) < 0
    )  # still closes
    assert negate(sim.spec, negative) == answer
    assert negate(sim.spec, answer, balc=12.5)["setlinfo"]["balc"] == 12.5  # the balance once restored


def test_a_settlement_adds_its_usage_to_the_year_and_its_undoing_takes_it_back() -> None:
    doc: dict[str, Any] = {"balance": "30.00", "ytd": {"2026": {"deductible:inpatient:any": "100.00"}}}
    usage = Usage({"deductible:inpatient:3": D("700.00"), "cap:inpatient": D("6970.00")})
    Settlement.apply(doc, 2026, usage, -D("30.00"))
    assert doc["balance"] == "0.00"
    assert doc["ytd"]["2026"] == {
        "deductible:inpatient:any": "100.00",
        "deductible:inpatient:3": "700.00",
        "cap:inpatient": "6970.00",
    }
    Settlement.apply(doc, 2027, Usage({"deductible:outpatient:1": D("50")}), D("0"))  # its own year
    assert doc["ytd"]["2027"] == {"deductible:outpatient:1": "50.00"}
    Settlement.apply(doc, 2026, -usage, D("30.00"))
    assert doc["balance"] == "30.00"
    assert doc["ytd"]["2026"] == {"deductible:inpatient:any": "100.00"}  # as before, to the key
