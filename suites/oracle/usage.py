"""A person's usage of one insurance year, as counters (what the next stay of the year depends on):

    ("deductible", setting, level)   deductible paid at that 起付线 level ("*": paid before, level unknown)
    ("stays", setting)               stays settled
    ("inscp", setting)               the running in-policy amount (bands over the year, in_policy)
    ("eligible", setting)            the running amount above the deductible (bands over the year)
    ("pool", cap)                    the pooled fund paid, in the cap's counter (settings may share one)
    ("base", counter)                a fund's running base (its threshold is on it)
    ("paid", counter)                what a fund paid (its annual cap is on it)

Usages add and negate exactly: a settlement adds its usage to its year, and a cancellation or reversal
subtracts the same (R-AMT-12), which leaves the year as if the settlement never happened.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from ...specs.money import ZERO, yuan

Key = tuple[str, ...]
ANY_LEVEL = "*"


class Usage(Mapping[Key, Decimal]):
    """Immutable counters; absent ones are zero (and zero ones are absent, so equal years compare equal)."""

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[Key, Decimal] | None = None) -> None:
        self._counts = {k: v for k, v in (counts or {}).items() if v}

    def __getitem__(self, key: Key) -> Decimal:
        return self._counts[key]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def of(self, *key: str) -> Decimal:
        return self._counts.get(key, ZERO)

    def total(self, *prefix: str) -> Decimal:
        """The sum of the counters under ``prefix`` (every level's deductible of a setting)."""
        return sum((v for k, v in self._counts.items() if k[: len(prefix)] == prefix), ZERO)

    def __add__(self, other: Mapping[Key, Decimal]) -> Usage:
        out = dict(self._counts)
        for k, v in other.items():
            out[k] = out.get(k, ZERO) + v
        return Usage(out)

    def __neg__(self) -> Usage:
        return Usage({k: -v for k, v in self._counts.items()})

    def __sub__(self, other: Mapping[Key, Decimal]) -> Usage:
        return self + Usage({k: -v for k, v in other.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._counts) == {k: v for k, v in other.items() if v}

    def __hash__(self) -> int:
        return hash(frozenset(self._counts.items()))

    def __repr__(self) -> str:
        return f"Usage({self._counts!r})"


def from_ytd(ytd: Mapping[str, Any] | None, cap: str = "inpatient") -> Usage:
    """The world file's ``ytd`` of one year as counters. Its figures are the inpatient setting's (住院):
    the deductible paid at a level it does not say, the pool paid into the inpatient ``cap`` counter, and
    each fund's payments under its code, the counter of a fund without a ``name``. No fund's running base is
    given, so none is assumed."""
    ytd = ytd or {}
    counts: dict[Key, Decimal] = {
        ("deductible", "inpatient", ANY_LEVEL): yuan(ytd.get("deductible")),
        ("pool", cap): yuan(ytd.get("pool")),
        ("stays", "inpatient"): Decimal(int(ytd.get("stays") or 0)),
        ("inscp", "inpatient"): yuan(ytd.get("inscp")),
        ("eligible", "inpatient"): yuan(ytd.get("eligible")),
    }
    for code, paid in (ytd.get("funds") or {}).items():
        counts["paid", str(code)] = yuan(paid)
    return Usage(counts)
