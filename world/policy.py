"""Benefit policies (参保地待遇) as dated data: what a policy says, as the world file writes it
(world/README.md).

Any value of a policy may be written as a mapping of dates to values, each the value from that day on
(OpenFisca's dated parameters, without OpenFisca). A :class:`Policy` keeps what the file says; ``on(day)``
gives its :class:`Terms`, every value the one in force that day, which is all a computation sees.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

ONE, NOTHING = Decimal(1), Decimal(0)
SETTINGS = ("inpatient", "outpatient", "chronic")  # 住院 · 普通门诊 · 门诊慢特病
LEVELS = ("1", "2", "3")  # 起付线医院等级: 一级及以下, 二级, 三级


class NotYet:
    """What a dated value is before its first date: no value at all (using it is an error)."""

    def __repr__(self) -> str:
        return "not yet in force"


NOT_YET = NotYet()


def in_force(value: Any, day: date) -> Any:
    """``value`` with every dated mapping in it replaced by the value in force on ``day`` (``NOT_YET``
    before the first date)."""
    if isinstance(value, Mapping):
        if value and all(isinstance(k, date) for k in value):
            since = [k for k in sorted(value) if k <= day]
            return in_force(value[since[-1]], day) if since else NOT_YET
        return {k: in_force(v, day) for k, v in value.items()}
    if isinstance(value, list):
        return [in_force(v, day) for v in value]
    return value


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass(frozen=True)
class Band:
    """A ratio for an amount up to ``up_to`` (from the band before); the last band has no bound."""

    ratio: Decimal
    up_to: Decimal | None = None


def _bands(raw: Any) -> tuple[Band, ...]:
    """A number (one band) or a list of bands."""
    if isinstance(raw, list):
        return tuple(
            Band(_dec(b["ratio"]), None if b.get("up_to") is None else _dec(b["up_to"])) for b in raw
        )
    return (Band(_dec(raw)),)


@dataclass(frozen=True)
class Who:
    """Whom a rule is for: every condition given must hold (none given: everyone)."""

    psn_type: frozenset[str] | None = None
    retired: bool | None = None
    age_from: int | None = None
    age_below: int | None = None
    years_from: int | None = None  # years of contribution (缴费年限)
    years_below: int | None = None
    idet: frozenset[str] | None = None  # psn_idet_type: any of them

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Who:
        raw = raw or {}

        def listed(key: str) -> frozenset[str] | None:
            return frozenset(str(x) for x in raw[key]) if key in raw else None

        numbers = {k: raw.get(k) for k in ("retired", "age_from", "age_below", "years_from", "years_below")}
        return cls(psn_type=listed("psn_type"), idet=listed("idet"), **numbers)

    def covers(self, person: Patient) -> bool:
        years = person.years if person.years is not None else -1  # unknown years meet no bound
        return (
            (self.psn_type is None or person.psn_type in self.psn_type)
            and (self.retired is None or person.retired == self.retired)
            and (self.age_from is None or person.age >= self.age_from)
            and (self.age_below is None or person.age < self.age_below)
            and (self.years_from is None or years >= self.years_from)
            and (self.years_below is None or 0 <= years < self.years_below)
            and (self.idet is None or bool(self.idet & person.idet))
        )


@dataclass(frozen=True)
class Patient:
    """The person as a policy sees them on the counting day."""

    psn_type: str
    age: int
    idet: frozenset[str] = frozenset()
    years: int | None = None  # years of contribution, where the world file gives them

    @property
    def retired(self) -> bool:
        return self.psn_type.startswith("12") or self.psn_type == "1300"


@dataclass(frozen=True)
class Deductible:
    """起付线: by hospital level, once a year or every stay."""

    level: Mapping[str, Decimal]
    per: str = "year"  # year · stay
    # per stay: the share due at the 2nd, 3rd … stay of a year (the last one repeats)
    later_stays: tuple[Decimal, ...] = (ONE,)
    across_levels: str = "difference"  # per year: difference (补差 up to the highest level's) · separate
    filings: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)  # fil_type → by level

    def amount(self, level: str, fil_type: str | None) -> Decimal:
        return self.filings.get(fil_type or "", self.level).get(level, self.level[level])

    def share(self, stays_before: int) -> Decimal:
        """The share of the deductible due for a stay after ``stays_before`` others this year."""
        return ONE if stays_before == 0 else self.later_stays[min(stays_before, len(self.later_stays)) - 1]


@dataclass(frozen=True)
class Setting:
    """One care setting of a policy (住院, 普通门诊, 门诊慢特病)."""

    name: str
    deductible: Deductible
    ratio: Mapping[str, tuple[Band, ...]]  # by hospital level
    annual_cap: Decimal | None  # None: no cap
    cap: str  # the counter the cap is kept in; settings naming the same one share the cap
    bands_over: str = "stay"  # stay · year (the year's running total)
    # what the band bounds measure: the amount above the deductible, or the in-policy amount itself
    # (in_policy: "起付线以上至10万元" counts the 10万 from 0, the deductible included)
    bands_on: str = "above_deductible"


@dataclass(frozen=True)
class Adjustment:
    """What differs for some persons: ratio points added (by level) or the ratio replaced (by level, a
    number or bands), the deductible multiplied, the share of 乙类先行自付 they bear."""

    who: Who
    add: Mapping[str, Decimal] = field(default_factory=dict)  # by level
    ratio: Mapping[str, tuple[Band, ...]] | None = None  # by level
    deductible: Decimal | None = None
    preselfpay: Decimal | None = None


@dataclass(frozen=True)
class Fund:
    """A fund paying after the pooled fund (大额, 大病, 公务员医疗补助, 医疗救助 …)."""

    fund_pay_type: str
    base: str  # personal: the in-policy amount still personal · over_cap: the in-policy amount above the cap
    bands: tuple[Band, ...]
    annual_cap: Decimal | None  # None: no cap
    threshold: Decimal = NOTHING  # a year's running base beyond which it pays
    who: Who = Who()
    name: str = ""  # the counters it keeps (default its fund_pay_type): two layers of one fund need two
    bands_on: str = "above_threshold"  # band bounds on the base above the threshold, or on the base (base)

    @property
    def counter(self) -> str:
        return self.name or self.fund_pay_type


@dataclass(frozen=True)
class Terms:
    """A policy as it stands on one day: every value the one in force."""

    insutype: str
    fund_pay_type: str
    account: bool
    year: str  # admission · settlement: the day a stay counts on (its year and its terms)
    settings: Mapping[str, Setting]
    adjustments: tuple[Adjustment, ...] = ()
    temporary_reduction: Mapping[str, Decimal] = field(default_factory=dict)
    funds: tuple[Fund, ...] = ()

    def setting(self, name: str) -> Setting:
        """The setting, or the general outpatient one for 门诊慢特病 where the policy has none of its own."""
        return self.settings.get(name) or self.settings["outpatient" if name == "chronic" else name]


@dataclass(frozen=True, eq=False)
class Policy:
    """An insured province's policy for one insutype, as the world file writes it (dates and all)."""

    insutype: str
    raw: Mapping[str, Any]

    @property
    def title(self) -> str:
        return str(self.raw.get("title", ""))

    @property
    def source(self) -> Mapping[str, Any]:
        return dict(self.raw.get("source") or {})

    @property
    def year(self) -> str:
        return str(self.raw.get("year", "settlement"))

    def insurance_year(self, day: date) -> int:
        """The insurance year a day counts in: the calendar year, or, with ``year_start: '07-01'``, the year
        the insurance year began in (医保年度 July to June)."""
        month, mday = (int(x) for x in str(self.raw.get("year_start", "01-01")).split("-"))
        return day.year if (day.month, day.day) >= (month, mday) else day.year - 1

    @property
    def fund_pay_type(self) -> str:
        return str(self.raw["fund_pay_type"])

    def on(self, day: date) -> Terms:
        """The terms in force on ``day``."""
        return _terms(self, day)

    def dates(self) -> list[date]:
        """Every day a value of this policy changes on."""
        found: set[date] = set()

        def walk(value: Any) -> None:
            if isinstance(value, Mapping):
                found.update(k for k in value if isinstance(k, date))
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(self.raw)
        return sorted(found)


@functools.lru_cache(maxsize=256)
def _terms(policy: Policy, day: date) -> Terms:
    raw = in_force(dict(policy.raw), day)
    settings = {name: _setting(name, raw[name]) for name in SETTINGS if raw.get(name)}
    return Terms(
        insutype=policy.insutype,
        fund_pay_type=str(raw["fund_pay_type"]),
        account=bool(raw.get("account", False)),
        year=str(raw.get("year", "settlement")),
        settings=settings,
        adjustments=tuple(_adjustment(a) for a in raw.get("adjustments") or ()),
        temporary_reduction={str(k): _dec(v) for k, v in (raw.get("temporary_reduction") or {}).items()},
        funds=tuple(_fund(f) for f in raw.get("funds") or ()),
    )


def _levels(raw: Mapping[Any, Any]) -> dict[str, Decimal]:
    return {str(k): _dec(v) for k, v in raw.items()}


def _by_level(raw: Any, parse: Any) -> dict[str, Any]:
    """A value by hospital level: a mapping of levels, or one value for every level."""
    if isinstance(raw, Mapping):
        return {str(k): parse(v) for k, v in raw.items()}
    return dict.fromkeys(LEVELS, parse(raw))


def _cap(raw: Any) -> Decimal | None:
    return None if raw is None else _dec(raw)


def _listed(raw: Any) -> list[Any]:
    return list(raw) if isinstance(raw, list) else [raw]


def _setting(name: str, raw: Mapping[str, Any]) -> Setting:
    d, r = raw["deductible"], raw["ratio"]
    return Setting(
        name=name,
        deductible=Deductible(
            level=_levels(d["level"]),
            per=str(d.get("per", "year")),
            later_stays=tuple(_dec(x) for x in _listed(d.get("later_stays", 1))),
            across_levels=str(d.get("across_levels", "difference")),
            filings={str(k): _levels(v) for k, v in (d.get("filings") or {}).items()},
        ),
        ratio={str(k): _bands(v) for k, v in r["level"].items()},
        bands_over=str(r.get("bands_over", "stay")),
        bands_on=str(r.get("bands_on", "above_deductible")),
        annual_cap=_cap(raw.get("annual_cap")),
        cap=str(raw.get("cap", name)),
    )


def _adjustment(raw: Mapping[str, Any]) -> Adjustment:
    def maybe(key: str) -> Decimal | None:
        return None if raw.get(key) is None else _dec(raw[key])

    return Adjustment(
        Who.parse(raw.get("who")),
        add=_by_level(raw.get("add", 0), _dec),
        ratio=None if raw.get("ratio") is None else _by_level(raw["ratio"], _bands),
        deductible=maybe("deductible"),
        preselfpay=maybe("preselfpay"),
    )


def _fund(raw: Mapping[str, Any]) -> Fund:
    return Fund(
        fund_pay_type=str(raw["fund_pay_type"]),
        base=str(raw.get("base", "personal")),
        bands=_bands(raw["bands"]),
        annual_cap=_cap(raw.get("annual_cap")),
        threshold=_dec(raw.get("threshold", 0)),
        who=Who.parse(raw.get("who")),
        name=str(raw.get("name", "")),
        bands_on=str(raw.get("bands_on", "above_threshold")),
    )


def parse(insutype: str, raw: Mapping[str, Any]) -> Policy:
    return Policy(insutype, raw)


def bands_text(bands: Sequence[Band]) -> str:
    """Bands as a person reads them: 80%（≤10000）、85%（≤100000）、90%."""
    return "、".join(f"{b.ratio:.0%}" + (f"（≤{b.up_to}）" if b.up_to is not None else "") for b in bands)


def problems(policy: Policy, since: date | None = None) -> list[tuple[str, str]]:
    """What makes a policy impossible on a day it changes on, or on ``since`` (the world's first day), as
    (where in the policy, what): a value not in force yet, a level without a deductible or a ratio, bands
    out of order, settings sharing a cap with different caps. (The schema has checked its shape.)"""
    found: list[tuple[str, str]] = []
    days = sorted({*policy.dates(), *([since] if since else [])}) or [date.min]
    for day in days:
        when = "" if day == date.min else f" (from {day})"
        try:
            terms = policy.on(day)
        except (KeyError, TypeError, ArithmeticError):  # a value not yet in force that day
            found.append(("", f"no complete policy in force on {day}: a value of it starts later"))
            continue
        if "inpatient" not in terms.settings:
            found.append(("inpatient", f"no inpatient setting{when}"))
        caps: dict[str, Decimal | None] = {}
        for s in terms.settings.values():
            for what, levels in (("deductible.level", s.deductible.level), ("ratio.level", s.ratio)):
                if set(levels) != set(LEVELS):
                    found.append((f"{s.name}.{what}", f"levels {sorted(levels)}, want 1, 2, 3{when}"))
            for level, bands in s.ratio.items():
                found += [(f"{s.name}.ratio.level.{level}", x + when) for x in _band_problems(bands)]
            if caps.setdefault(s.cap, s.annual_cap) != s.annual_cap:
                found.append((f"{s.name}.annual_cap", f"shares cap {s.cap!r} with a different cap{when}"))
        for i, f in enumerate(terms.funds):
            found += [(f"funds[{i}].bands", x + when) for x in _band_problems(f.bands)]
        for i, a in enumerate(terms.adjustments):
            for level, bands in (a.ratio or {}).items():
                found += [(f"adjustments[{i}].ratio.{level}", x + when) for x in _band_problems(bands)]
    return sorted(set(found), key=found.index)


def _band_problems(bands: Sequence[Band]) -> list[str]:
    bounds = [b.up_to for b in bands]
    if bounds[-1] is not None:
        return ["the last band must have no up_to (it runs on without bound)"]
    if any(b is None for b in bounds[:-1]):
        return ["only the last band may have no up_to"]
    if any(a >= b for a, b in itertools.pairwise(bounds[:-1])):  # type: ignore[operator]
        return [f"up_to must rise band by band, got {[str(b) for b in bounds[:-1]]}"]
    return []
