"""Regional drift at the edge (specs/adapt.py): shapes and meanings on the wire, base ones inside."""

from __future__ import annotations

from yidi.specs import examples, loader, rules
from yidi.specs.adapt import Adapter


def test_zhuhai_counts_the_personal_account_in_the_fund_on_the_wire_only() -> None:
    base, zhuhai = loader.load(), loader.load("zhuhai")
    adapter = Adapter(base, zhuhai)
    output = examples.response(base, "2304")["output"]
    setl = output["setlinfo"]
    wire = adapter.to_wire("2304", "output", output)
    assert wire["setlinfo"]["fund_pay_sumamt"] == round(setl["fund_pay_sumamt"] + setl["acct_pay"], 2)
    body = {"infcode": 0, "output": wire}
    assert rules.check_message(zhuhai, "2304", body, response=True, context=dict(zhuhai.semantics)) == []
    assert adapter.to_base("2304", "output", wire) == output  # and back: the handlers' meaning
    assert Adapter(base, loader.load("guangzhou")).acct_in_fund is False
