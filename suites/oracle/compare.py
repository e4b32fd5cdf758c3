"""An answer against what the oracle expects of it: every setlinfo amount the answer carries, and what each
fund paid by its setldetail lines."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ...specs.money import ZERO, yuan
from .model import Expected


def differences(answer: Mapping[str, Any], expected: Expected) -> dict[str, tuple[Decimal, Decimal]]:
    """Field (``setldetail[<fund_pay_type>]`` for a fund) → (expected, answered), where they differ."""
    s = answer["setlinfo"]
    differ = {k: (v, yuan(s[k])) for k, v in expected.setlinfo().items() if k in s and yuan(s[k]) != v}
    answered: dict[str, Decimal] = {}
    for line in answer.get("setldetail") or []:
        code = str(line["fund_pay_type"])
        answered[code] = answered.get(code, ZERO) + yuan(line["fund_payamt"])
    paid = expected.paid_by()
    for code in sorted({*paid, *answered}):
        if paid.get(code, ZERO) != answered.get(code, ZERO):
            differ[f"setldetail[{code}]"] = (paid.get(code, ZERO), answered.get(code, ZERO))
    return differ
