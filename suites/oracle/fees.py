"""The treatment side's classification of fee lines by its catalog (就医地目录, R-BEN-05, R-CAT-01/02),
written from the rule alone:

    amount      = quantity × unit price, to the cent
    超限价自费   = (unit price − price cap) × quantity, where the price is above the cap
    of the rest: 丙 全自费 · 乙 先行自付 = rest × selfpay_prop, the remainder in policy · 甲 wholly in policy

Each amount is rounded to the cent once; a refund line (negative quantity) is the exact negative of the
line it refunds. Only the totals cross to the insured side (实时传大类), so the totals and the totals by
医疗收费项目类别 (01–14) are what a settlement's expectation starts from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...specs.money import ZERO, yuan
from ...world.topology import CatalogEntry

JIA, YI, BING = "01", "02", "03"  # chrgitm_lv 甲 · 乙 · 丙


@dataclass(frozen=True)
class Ranges:
    """The four policy ranges of an amount (R-AMT-06): 全自费, 超限价自费, 先行自付, 符合政策范围."""

    fulamt_ownpay: Decimal = ZERO
    overlmt: Decimal = ZERO
    preselfpay: Decimal = ZERO
    inscp: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.fulamt_ownpay + self.overlmt + self.preselfpay + self.inscp

    def __add__(self, other: Ranges) -> Ranges:
        return Ranges(
            self.fulamt_ownpay + other.fulamt_ownpay,
            self.overlmt + other.overlmt,
            self.preselfpay + other.preselfpay,
            self.inscp + other.inscp,
        )

    def __neg__(self) -> Ranges:
        return Ranges(-self.fulamt_ownpay, -self.overlmt, -self.preselfpay, -self.inscp)


class NotInCatalog(KeyError):
    """A fee item the treatment province's catalog does not list (R-CAT-01): it cannot be settled."""


@dataclass(frozen=True)
class FeeLine:
    """One uploaded fee line: the national item code, quantity and unit price."""

    code: str
    cnt: Decimal
    pric: Decimal

    @classmethod
    def of(cls, code: str, cnt: Any, pric: Any) -> FeeLine:
        # through the text, so a wire float 0.1 is 0.1 and not its binary neighbour
        return cls(str(code), Decimal(str(cnt)), Decimal(str(pric)))


@dataclass(frozen=True)
class Classified:
    """A fee line as the catalog splits it."""

    line: FeeLine
    category: str  # med_chrgitm_type 01–14
    amount: Decimal  # det_item_fee_sumamt
    ranges: Ranges


@dataclass(frozen=True)
class Bill:
    """A stay's classified lines and the totals that cross to the insured side."""

    lines: tuple[Classified, ...]
    totals: Ranges
    by_category: Mapping[str, Ranges]

    @property
    def medfee(self) -> Decimal:
        return self.totals.total


def split(entry: CatalogEntry, cnt: Any, pric: Any) -> Ranges:
    """The four ranges of ``cnt`` × ``pric`` of one catalog entry."""
    cnt, pric = Decimal(str(cnt)), Decimal(str(pric))
    if cnt < 0:  # a refund returns exactly what the refunded quantity was split into
        return -split(entry, -cnt, pric)
    amount = yuan(cnt * pric)
    cap = entry.price_cap
    overlmt = yuan((pric - cap) * cnt) if cap is not None and pric > cap else ZERO
    rest = amount - overlmt
    if entry.chrgitm_lv == BING:
        return Ranges(fulamt_ownpay=rest, overlmt=overlmt)
    if entry.chrgitm_lv == YI:
        pre = yuan(rest * entry.selfpay_prop)
        return Ranges(overlmt=overlmt, preselfpay=pre, inscp=rest - pre)
    return Ranges(overlmt=overlmt, inscp=rest)  # 甲: whatever its selfpay_prop says, wholly in policy


def classify(catalog: Mapping[str, CatalogEntry], lines: Iterable[FeeLine | tuple[str, Any, Any]]) -> Bill:
    """Every line split by the catalog, with the totals and the totals by category (01–14)."""
    done: list[Classified] = []
    for raw in lines:
        line = raw if isinstance(raw, FeeLine) else FeeLine.of(*raw)
        entry = catalog.get(line.code)
        if entry is None:
            raise NotInCatalog(line.code)
        ranges = split(entry, line.cnt, line.pric)
        done.append(Classified(line, entry.item.med_chrgitm_type, ranges.total, ranges))
    totals, by_category = Ranges(), dict[str, Ranges]()
    for c in done:
        totals += c.ranges
        by_category[c.category] = by_category.get(c.category, Ranges()) + c.ranges
    return Bill(tuple(done), totals, dict(sorted(by_category.items())))
