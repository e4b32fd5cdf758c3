"""Fee classification with the treatment province's catalog (就医地目录): every uploaded line is split
into full self-pay (丙), over-price-limit self-pay, pre-self-pay (乙 share) and the in-policy amount.

Money is Decimal, rounded half up to the cent once per amount (``specs.money``). A refund line (negative
cnt) splits into the exact negatives of the same shares.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..specs.money import ZERO, half_even, yuan
from ..world.topology import CatalogEntry


@dataclass(frozen=True)
class Split:
    """The four policy ranges of an amount; they always add up to it."""

    fulamt_ownpay: Decimal = ZERO  # 全自费
    overlmt: Decimal = ZERO  # 超限价自费
    preselfpay: Decimal = ZERO  # 先行自付
    inscp: Decimal = ZERO  # 符合政策范围

    @property
    def total(self) -> Decimal:
        return self.fulamt_ownpay + self.overlmt + self.preselfpay + self.inscp

    def __add__(self, other: Split) -> Split:
        return Split(
            self.fulamt_ownpay + other.fulamt_ownpay,
            self.overlmt + other.overlmt,
            self.preselfpay + other.preselfpay,
            self.inscp + other.inscp,
        )

    def __neg__(self) -> Split:
        return Split(-self.fulamt_ownpay, -self.overlmt, -self.preselfpay, -self.inscp)


def classify(entry: CatalogEntry, cnt: Any, pric: Any, amount: Any, *, even: bool = False) -> Split:
    """Split one fee line (amount = det_item_fee_sumamt) by the catalog entry of its item (``even``: the
    fee-split-bankers-rounding mutant rounds the shares half to even)."""
    cent = half_even if even else yuan
    total = yuan(amount)
    quantity, price = Decimal(str(cnt)), Decimal(str(pric))
    over = ZERO
    if entry.price_cap is not None and price > entry.price_cap:
        over = cent(quantity * (price - entry.price_cap))
    base = total - over
    if entry.chrgitm_lv == "03":
        return Split(fulamt_ownpay=base, overlmt=over)
    pre = cent(base * entry.selfpay_prop) if entry.chrgitm_lv == "02" else ZERO
    return Split(overlmt=over, preselfpay=pre, inscp=base - pre)


def categories(lines: Iterable[tuple[str, Split]]) -> dict[str, Split]:
    """Totals per 医疗收费项目类别 (实时传大类): what crosses to the insured side at settlement."""
    out: dict[str, Split] = {}
    for chrgitm_type, split in lines:
        out[chrgitm_type] = out.get(chrgitm_type, Split()) + split
    return dict(sorted(out.items()))
