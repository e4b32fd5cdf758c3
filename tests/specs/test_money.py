"""The one money module (specs/money.py): yuan to the cent, half up, and the spec's money fields."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from yidi.specs import loader, money

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (0.125, "0.13"),  # half a cent rounds up (half-even would give 0.12)
        ("2.675", "2.68"),
        (2.675, "2.68"),  # the float's text, not its binary value (2.67499999…)
        (0.1 + 0.2, "0.30"),
        (-0.125, "-0.13"),  # a refund is the exact negative of its charge
        (-0.005, "-0.01"),
        (10, "10.00"),
        (Decimal("3.14159"), "3.14"),
        (None, "0.00"),  # an absent amount counts as zero, as the rules count it
        ("", "0.00"),
    ],
)
def test_an_amount_is_yuan_to_the_cent_half_up(given: object, expected: str) -> None:
    assert str(money.yuan(given)) == expected


def test_cents_and_back() -> None:
    assert money.cents(0.125) == 13 and money.cents(-0.125) == -13 and money.cents("1234.5") == 123450
    assert str(money.of_cents(1230)) == "12.30" and str(money.of_cents(-5)) == "-0.05"
    assert all(money.of_cents(money.cents(x)) == money.yuan(x) for x in (0.01, 99.995, -3.3, 1e6 + 0.005))


def test_the_wire_number_is_exact_to_the_cent() -> None:
    assert money.wire("12.345") == 12.35 and money.wire(Decimal("0.1")) == 0.1
    assert isinstance(money.wire(1), float)


def test_the_money_fields_are_the_specs_num_16_2() -> None:
    found = money.fields(loader.load())
    assert {"medfee_sumamt", "fund_pay_sumamt", "acct_pay", "balc", "det_item_fee_sumamt", "clr_amt"} <= found
    assert not found & {"cnt", "pric", "selfpay_prop", "prd_days", "pool_prop_selfpay"}  # not amounts


def test_no_other_module_rounds_money() -> None:
    # one rounding rule: Decimal rounding appears in specs/money.py only
    parts = ("specs", "world", "actors", "simulators", "suites", "load", "reports")
    rounding = re.compile(r"\.quantize\(|ROUND_HALF|to_integral")
    found = [
        str(path.relative_to(ROOT))
        for part in parts
        for path in (ROOT / part).rglob("*.py")
        if rounding.search(path.read_text(encoding="utf-8")) and path != ROOT / "specs" / "money.py"
    ]
    assert found == []
