"""Money as the interface writes it: yuan to the cent (``num(16,2)``), with one rounding rule, half up
(四舍五入), and one name for each idea. Every part that computes with money uses these.

    yuan(x)        any amount (a wire number, text, Decimal) as Decimal yuan, to the cent
    cents(x)       the same amount in integer cents, as state keeps money
    of_cents(n)    integer cents back to Decimal yuan (exact: its text is the amount, "12.30")
    wire(x)        the amount as the JSON number a message carries
    fields(spec)   the money fields of a spec: every field whose form is num(16,2)
    amounts(spec)  the amounts a settlement moves: its answer's money fields but the balance after

Decimal throughout: a wire float is read through its shortest text (``str(0.1) == "0.1"``), so 0.1 is
0.10 and never 0.1000000000000000055…; rounding happens once per amount, where the rule says so.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from .model import Form, Spec

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
FORM = Form("num", 16, 2)  # 数值型(16,2): every amount of the interface


def yuan(value: Any) -> Decimal:
    """An amount as Decimal yuan, rounded half up to the cent; an absent one (None, "") is zero, as the
    spec's rules count it."""
    if value is None or value == "":
        return ZERO
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def half_even(value: Any) -> Decimal:
    """The wrong rounding, kept here with the right one: half to even (.NET's Math.Round default, Python's
    round), 30.025 → 30.02. Only the mutants that make this mistake use it."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def exact_to(value: Decimal, places: int) -> bool:
    """Whether ``value`` needs no more than ``places`` decimals (30.025 to 3: yes; to 2: no)."""
    return value == value.quantize(Decimal(1).scaleb(-places))


def cents(value: Any) -> int:
    """An amount in integer cents (rounded half up to the cent first)."""
    return int(yuan(value).scaleb(2))


def of_cents(value: int) -> Decimal:
    """Integer cents as Decimal yuan."""
    return Decimal(value).scaleb(-2)


def wire(value: Any) -> float:
    """The amount as a message carries it: a JSON number, exact to the cent."""
    return float(yuan(value))


def fields(spec: Spec) -> frozenset[str]:
    """The names of the spec's money fields (form num(16,2)), in any node of any transaction."""
    found = spec.cache.get("money fields")
    if found is None:
        found = spec.cache["money fields"] = frozenset(
            f.name
            for t in spec.transactions.values()
            for nodes in (t.input, t.output)
            for node in nodes.values()
            for f in node.fields.values()
            if f.form == FORM
        )
    return found


BALANCE = "balc"  # 余额: the personal account's balance after a settlement, a state rather than a flow


def amounts(spec: Spec) -> tuple[str, ...]:
    """The amounts a settlement moves, in the order of its answer (2304's setlinfo): the money fields but
    the balance after. A cancellation or reversal returns each one negated (R-AMT-11)."""
    found = spec.cache.get("settlement amounts")
    if found is None:
        setlinfo = spec.transaction("2304").output["setlinfo"].fields.values()
        found = spec.cache["settlement amounts"] = tuple(
            f.name for f in setlinfo if f.form == FORM and f.name != BALANCE
        )
    return found
