"""The independent oracle (独立预期): every amount a settlement must answer, computed by the suites
themselves from the rules (world/README.md, settlement-rules.md §2.4–2.5, §3, rules.yaml R-AMT/R-BEN/R-CAT)
and the world's data, so that a mistake in yidi's reference simulators cannot also be in the expectations.
It imports nothing of ``yidi.simulators`` (an import-linter contract in pyproject.toml holds it to that).

    classify(catalog, lines)           fee lines → the four ranges per line, totals, totals by category
    expect(terms, claim, patient, used) one settlement's setlinfo, setldetail lines, usage, explanation
    Ledger                             a person's years: settle, cancel, reverse
    differences(answer, expected)      where an answer's amounts and fund lines are not the expected
    replay(bookings, world)            a run's bookings recomputed person by person
"""

from __future__ import annotations

from .compare import differences
from .fees import Bill, Classified, FeeLine, NotInCatalog, Ranges, classify, split
from .filing import filing_type, setting_of
from .ledger import Entry, Ledger, counting_day, insurance_year
from .model import FIELD, SETLINFO, Claim, Expected, FundLine, field_of
from .replay import Replayed, replay
from .settle import deductible_due, expect
from .usage import Usage, from_ytd

__all__ = [
    "FIELD",
    "SETLINFO",
    "Bill",
    "Claim",
    "Classified",
    "Entry",
    "Expected",
    "FeeLine",
    "FundLine",
    "Ledger",
    "NotInCatalog",
    "Ranges",
    "Replayed",
    "Usage",
    "classify",
    "counting_day",
    "deductible_due",
    "differences",
    "expect",
    "field_of",
    "filing_type",
    "from_ytd",
    "insurance_year",
    "replay",
    "setting_of",
    "split",
]
