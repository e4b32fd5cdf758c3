"""Bands (分段): a segment of an axis cut at the bands' bounds, each piece paid at its band's ratio and
rounded half up to the cent, once per band (world/README.md, "Money is Decimal …")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ...specs.money import ZERO, yuan
from ...world.policy import Adjustment, Band

ONE = Decimal(1)


@dataclass(frozen=True)
class Piece:
    """The part of a segment inside one band: from ``lo`` to ``hi`` on the bands' axis, paid ``paid``."""

    lo: Decimal
    hi: Decimal
    ratio: Decimal
    paid: Decimal

    @property
    def length(self) -> Decimal:
        return self.hi - self.lo


def walk(bands: Sequence[Band], start: Decimal, end: Decimal) -> list[Piece]:
    """The segment from ``start`` to ``end`` of the axis the bounds measure, band by band. A band runs from
    the bound before it (0 for the first) up to its ``up_to``; the last has none."""
    pieces, bound = [], ZERO
    for band in bands:
        lo = max(start, bound)
        hi = end if band.up_to is None else min(end, band.up_to)
        if hi > lo:
            pieces.append(Piece(lo, hi, band.ratio, yuan((hi - lo) * band.ratio)))
        if band.up_to is None:
            break
        bound = band.up_to
    return pieces


def paid(pieces: Sequence[Piece]) -> Decimal:
    return sum((p.paid for p in pieces), ZERO)


def within_cap(pieces: Sequence[Piece], left: Decimal) -> Decimal:
    """How much of the segment the pieces cover before their payments reach ``left`` (what is left of an
    annual cap): the rest of the segment is the amount above the cap (a fund's ``over_cap`` base). In the
    piece where the cap is reached, the amount its remaining payment pays for, to the cent."""
    covered, cum = ZERO, ZERO
    for p in pieces:
        if cum + p.paid <= left:
            covered, cum = covered + p.length, cum + p.paid
            continue
        return covered + min(p.length, yuan((left - cum) / p.ratio))  # p.ratio > 0: it paid more than 0
    return covered


def ratio_bands(
    level_bands: Sequence[Band], level: str, adjustments: Sequence[Adjustment], reduction: Decimal
) -> tuple[Band, ...]:
    """The ratio of a level as it applies to a person: the level's number or bands, each adjustment in
    order (``ratio`` replaces them, ``add`` adds points), minus the temporary reduction; then every band's
    ratio between 0 and 1 — bounded once, at the end, as the rule's one sentence reads."""
    bands = tuple(level_bands)
    for a in adjustments:
        if a.ratio is not None and level in a.ratio:
            bands = tuple(a.ratio[level])
        add = a.add.get(level, ZERO)
        if add:
            bands = tuple(Band(b.ratio + add, b.up_to) for b in bands)
    return tuple(Band(min(ONE, max(ZERO, b.ratio - reduction)), b.up_to) for b in bands)
