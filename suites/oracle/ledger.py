"""A person's insurance years as a ledger: the world file's usage before the scenarios (``ytd``) and the
account balance to start from, then every settlement, cancellation and reversal in the order they happen.
What the suites follow a person through several stays with.

A stay counts wholly in the insurance year of its counting day (its admission or its settlement day, as
the policy's ``year`` says), and the terms in force that day are the ones it is settled under. A new year
starts from its own ``ytd`` or from nothing. A cancellation (2305) or reversal (2601) answers the exact
negative of what it undoes and rolls its year's usage back (R-AMT-11, R-AMT-12); the account is paid back
(R-BEN-06). A reversal of a cancellation puts the settlement back; a second reversal changes nothing
(R-REV-03).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ...specs.money import ZERO, yuan
from ...world.policy import Patient, Policy
from ...world.topology import Person
from .model import Claim, Expected
from .settle import expect
from .usage import Usage, from_ytd


@dataclass(frozen=True)
class Entry:
    """One transaction of the ledger and what it must answer."""

    id: str
    kind: str  # settlement · cancellation · reversal
    year: int  # the insurance year it counts in
    expected: Expected
    undoes: str | None = None  # the entry a cancellation or reversal takes back


def counting_day(policy: Policy, admitted: date, settled: date) -> date:
    """The day a stay counts on: its admission or its settlement day (default settlement)."""
    return admitted if str(policy.raw.get("year", "settlement")) == "admission" else settled


def insurance_year(policy: Policy, day: date) -> int:
    """The insurance year ``day`` is in, named by the calendar year it starts in (``year_start: '07-01'``:
    July to June)."""
    month, mday = (int(x) for x in str(policy.raw.get("year_start", "01-01")).split("-"))
    return day.year if (day.month, day.day) >= (month, mday) else day.year - 1


class Ledger:
    """A person's years under one policy."""

    def __init__(
        self,
        policy: Policy,
        person: Callable[[date], Patient] | Patient,
        *,
        ytd: Mapping[int, Mapping[str, Any]] | None = None,
        balance: Any = ZERO,
    ) -> None:
        self.policy = policy
        self._patient: Callable[[date], Patient] = (
            (lambda _day: person) if isinstance(person, Patient) else person
        )
        self._ytd = {int(y): u for y, u in (ytd or {}).items()}
        self._years: dict[int, Usage] = {}
        self.balance = yuan(balance)
        self.entries: dict[str, Entry] = {}
        self._undone: dict[str, str] = {}  # entry id → the entry that took it back

    @classmethod
    def of(cls, person: Person, policy: Policy) -> Ledger:
        """A world file's person: their ``ytd`` and account balance, their age and kind on each day."""
        return cls(policy, person.patient, ytd=person.ytd, balance=person.account_balance)

    def used(self, year: int) -> Usage:
        """The year's usage so far (the world's ``ytd`` and every settlement still standing)."""
        if year not in self._years:
            raw = self.policy.raw.get("inpatient") or {}
            cap = str(raw.get("cap", "inpatient")) if isinstance(raw, Mapping) else "inpatient"
            self._years[year] = from_ytd(self._ytd.get(year), cap)
        return self._years[year]

    def expect(self, claim: Claim, admitted: date, settled: date | None = None) -> tuple[int, Expected]:
        """What settling ``claim`` now would answer, and its year, without recording it (a 2303
        pre-settlement answers the same as the 2304 after it, R-AMT-10)."""
        day = counting_day(self.policy, admitted, settled or admitted)
        year = insurance_year(self.policy, day)
        terms = self.policy.on(day)
        return year, expect(terms, claim, self._patient(day), self.used(year), balance=self.balance)

    def settle(
        self, claim: Claim, admitted: date, settled: date | None = None, *, setl_id: str | None = None
    ) -> Entry:
        year, expected = self.expect(claim, admitted, settled)
        return self._record(Entry(setl_id or self._next("S"), "settlement", year, expected))

    def cancel(self, setl_id: str, *, id: str | None = None) -> Entry:
        """Cancel a standing settlement (2305): its exact negative."""
        undone = self.entries[setl_id]
        if undone.kind != "settlement" or not self.standing(setl_id):
            raise ValueError(f"{setl_id} is not a settlement still standing")
        return self._take_back(undone, "cancellation", id)

    def reverse(self, entry_id: str, *, id: str | None = None) -> Entry | None:
        """Reverse a settlement or a cancellation (2601): its exact negative; None when it is already taken
        back (a second reversal changes nothing)."""
        undone = self.entries[entry_id]
        if undone.kind == "reversal" or not self.standing(entry_id):
            return None
        return self._take_back(undone, "reversal", id)

    def standing(self, entry_id: str) -> bool:
        """Whether an entry still counts: never taken back, or taken back by an entry since reversed."""
        by = self._undone.get(entry_id)
        return by is None or not self.standing(by)

    def _take_back(self, undone: Entry, kind: str, id: str | None) -> Entry:
        # the balance after: the account gets back what the undone entry took from it
        balc = self.balance + undone.expected.acct_pay
        why = {"cancellation": "撤销", "reversal": "冲正"}[kind] + f"{undone.id}"
        negative = undone.expected.negated(balc, why)
        entry = Entry(id or self._next(kind[0].upper()), kind, undone.year, negative, undone.id)
        self._undone[undone.id] = entry.id
        return self._record(entry)

    def _record(self, entry: Entry) -> Entry:
        if entry.id in self.entries:
            raise ValueError(f"{entry.id} is already in the ledger")
        self.entries[entry.id] = entry
        self._years[entry.year] = self.used(entry.year) + entry.expected.usage
        self.balance -= entry.expected.acct_pay
        return entry

    def _next(self, prefix: str) -> str:
        return f"{prefix}{len(self.entries) + 1}"
