"""Realistic fee sizes for load: what a stay or a visit costs, spread over a province's catalog.

Figures (../shared/reference/settlement-rules.md §1.3): an inpatient stay cost about 23,930 yuan in all with
58.7 % paid by the funds (≈ 1.4万, the 2017 seed's 1.36万 fund payment per settlement); a general outpatient
visit about 125 yuan. Costs are right-skewed, so a bill's total is drawn from a log-normal distribution with
that mean.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

INPATIENT_MEAN = 23_930.0  # yuan per stay, cumulative to 2019-03 [D] (§1.3)
OUTPATIENT_MEAN = 125.0  # yuan per general outpatient visit, 2025 Q1 [D] (§1.3)
SIGMA = 0.6  # spread of the log-normal: the middle half of stays between about ½ and 1½ times the median

Line = tuple[str, float, float]  # national code, quantity, unit price: what His.fee_lines takes


def total(mean: float, rng: random.Random) -> float:
    """One bill's total, log-normal with this mean."""
    return rng.lognormvariate(math.log(mean) - SIGMA**2 / 2, SIGMA)


def bill(catalog: Sequence[tuple[str, float]], amount: float, lines: int, rng: random.Random) -> list[Line]:
    """``lines`` fee lines from ``catalog`` ((code, unit price), priced at most ``amount``) whose quantities
    make up about ``amount``: each line takes a random share, and at least one unit."""
    affordable = [entry for entry in catalog if entry[1] <= amount] or [min(catalog, key=lambda e: e[1])]
    chosen = [affordable[rng.randrange(len(affordable))] for _ in range(lines)]
    weights = [rng.random() + 0.1 for _ in chosen]
    scale = amount / sum(weights)
    return [
        (code, max(1, round(w * scale / price)), price)
        for (code, price), w in zip(chosen, weights, strict=True)
    ]


def inpatient(catalog: Sequence[tuple[str, float]], rng: random.Random) -> list[Line]:
    """A stay's bill: 10–40 lines (uploaded by 2301 in batches)."""
    return bill(catalog, total(INPATIENT_MEAN, rng), rng.randint(10, 40), rng)


def outpatient(catalog: Sequence[tuple[str, float]], rng: random.Random) -> list[Line]:
    """A general outpatient visit's bill: 1–4 lines."""
    return bill(catalog, total(OUTPATIENT_MEAN, rng), rng.randint(1, 4), rng)
