"""Load bills have the sizes of the national figures (settlement-rules.md §1.3): a stay about 2.4万 in all,
an outpatient visit about 125 yuan, each line at least one unit of an item the hospital's province lists."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable

import pytest

from yidi.load import bills
from yidi.world import topology

CATALOG = [(e.item.code, float(e.item.price)) for e in topology.load().provinces["500000"].catalog.values()]


def cost(lines: list[bills.Line]) -> float:
    return sum(cnt * price for _, cnt, price in lines)


@pytest.mark.parametrize(
    ("make", "mean", "lines"),
    [(bills.inpatient, bills.INPATIENT_MEAN, (10, 40)), (bills.outpatient, bills.OUTPATIENT_MEAN, (1, 4))],
)
def test_bills_average_the_national_figure(
    make: Callable[[list[tuple[str, float]], random.Random], list[bills.Line]],
    mean: float,
    lines: tuple[int, int],
) -> None:
    rng = random.Random(7)
    drawn = [make(CATALOG, rng) for _ in range(2000)]
    assert statistics.mean(cost(b) for b in drawn) == pytest.approx(mean, rel=0.15)
    assert all(lines[0] <= len(b) <= lines[1] for b in drawn)
    listed = {code for code, _ in CATALOG}
    assert all(code in listed and cnt >= 1 for b in drawn for code, cnt, _ in b)


def test_a_bill_smaller_than_every_price_still_bills_one_unit_of_the_cheapest() -> None:
    lines = bills.bill(CATALOG, 0.5, 2, random.Random(1))
    cheapest = min(price for _, price in CATALOG)
    assert [(cnt, price) for _, cnt, price in lines] == [(1, cheapest), (1, cheapest)]
