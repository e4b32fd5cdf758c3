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


def in_force(value: Any, day: date) -> Any:
    """``value`` with every dated mapping in it replaced by the value in force on ``day`` (None before the
    first date)."""
    if isinstance(value, Mapping):
        if value and all(isinstance(k, date) for k in value):
            since = [k for k in sorted(value) if k <= day]
            return in_force(value[since[-1]], day) if since else None
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
    idet: frozenset[str] | None = None  # psn_idet_type: any of them

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Who:
        raw = raw or {}
        listed = {k: frozenset(str(x) for x in raw[k]) for k in ("psn_type", "idet") if k in raw}
        return cls(
            retired=raw.get("retired"), age_from=raw.get("age_from"), age_below=raw.get("age_below"), **listed
        )

    def covers(self, person: Patient) -> bool:
        return (
            (self.psn_type is None or person.psn_type in self.psn_type)
            and (self.retired is None or person.retired == self.retired)
            and (self.age_from is None or person.age >= self.age_from)
            and (self.age_below is None or person.age < self.age_below)
            and (self.idet is None or bool(self.idet & person.idet))
        )


@dataclass(frozen=True)
class Patient:
    """The person as a policy sees them on the counting day."""

    psn_type: str
    age: int
    idet: frozenset[str] = frozenset()

    @property
    def retired(self) -> bool:
        return self.psn_type.startswith("12") or self.psn_type == "1300"


@dataclass(frozen=True)
class Deductible:
    """起付线: by hospital level, once a year or every stay."""

    level: Mapping[str, Decimal]
    per: str = "year"  # year · stay
    later_stays: Decimal = ONE  # per stay: the share due for the second and later stays of a year
    across_levels: str = "difference"  # per year: difference (补差 up to the highest level's) · separate
    filings: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)  # fil_type → by level

    def amount(self, level: str, fil_type: str | None) -> Decimal:
        return self.filings.get(fil_type or "", self.level).get(level, self.level[level])


@dataclass(frozen=True)
class Setting:
    """One care setting of a policy (住院, 普通门诊, 门诊慢特病)."""

    name: str
    deductible: Deductible
    ratio: Mapping[str, tuple[Band, ...]]  # by hospital level
    annual_cap: Decimal
    cap: str  # the counter the cap is kept in; settings naming the same one share the cap
    bands_over: str = "stay"  # stay · year (the running total of the year's amount above the deductible)


@dataclass(frozen=True)
class Adjustment:
    """What differs for some persons: ratio points added or the ratio set, the deductible multiplied, the
    share of 乙类先行自付 they bear."""

    who: Who
    add: Decimal = NOTHING
    ratio: Decimal | None = None
    deductible: Decimal | None = None
    preselfpay: Decimal | None = None


@dataclass(frozen=True)
class Fund:
    """A fund paying after the pooled fund (大额, 大病, 公务员医疗补助, 医疗救助 …)."""

    fund_pay_type: str
    base: str  # personal: the in-policy amount still personal · over_cap: the in-policy amount above the cap
    bands: tuple[Band, ...]
    annual_cap: Decimal
    threshold: Decimal = NOTHING  # a year's running base beyond which it pays
    who: Who = Who()


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


def _setting(name: str, raw: Mapping[str, Any]) -> Setting:
    d, r = raw["deductible"], raw["ratio"]
    return Setting(
        name=name,
        deductible=Deductible(
            level=_levels(d["level"]),
            per=str(d.get("per", "year")),
            later_stays=_dec(d.get("later_stays", 1)),
            across_levels=str(d.get("across_levels", "difference")),
            filings={str(k): _levels(v) for k, v in (d.get("filings") or {}).items()},
        ),
        ratio={str(k): _bands(v) for k, v in r["level"].items()},
        bands_over=str(r.get("bands_over", "stay")),
        annual_cap=_dec(raw["annual_cap"]),
        cap=str(raw.get("cap", name)),
    )


def _adjustment(raw: Mapping[str, Any]) -> Adjustment:
    def maybe(key: str) -> Decimal | None:
        return None if raw.get(key) is None else _dec(raw[key])

    return Adjustment(
        Who.parse(raw.get("who")),
        add=_dec(raw.get("add", 0)),
        ratio=maybe("ratio"),
        deductible=maybe("deductible"),
        preselfpay=maybe("preselfpay"),
    )


def _fund(raw: Mapping[str, Any]) -> Fund:
    return Fund(
        fund_pay_type=str(raw["fund_pay_type"]),
        base=str(raw.get("base", "personal")),
        bands=_bands(raw["bands"]),
        annual_cap=_dec(raw["annual_cap"]),
        threshold=_dec(raw.get("threshold", 0)),
        who=Who.parse(raw.get("who")),
    )


def parse(insutype: str, raw: Mapping[str, Any]) -> Policy:
    return Policy(insutype, raw)


def bands_text(bands: Sequence[Band]) -> str:
    """Bands as a person reads them: 80%（≤10000）、85%（≤100000）、90%."""
    return "、".join(f"{b.ratio:.0%}" + (f"（≤{b.up_to}）" if b.up_to is not None else "") for b in bands)


def problems(policy: Policy, since: date | None = None) -> list[str]:
    """What makes a policy impossible on a day it changes on, or on ``since`` (the world's first day): a
    value not in force yet, a level without a deductible or a ratio, bands out of order, settings sharing a
    cap with different caps. (The schema has checked its shape.)"""
    found: list[str] = []
    days = sorted({*policy.dates(), *([since] if since else [])}) or [date.min]
    for day in days:
        when = "" if day == date.min else f" (from {day})"
        try:
            terms = policy.on(day)
        except (KeyError, TypeError, ArithmeticError):  # a value not yet in force that day
            found.append(f"no complete policy in force on {day}: a value starts later")
            continue
        if "inpatient" not in terms.settings:
            found.append(f"no inpatient setting{when}")
        caps: dict[str, Decimal] = {}
        for s in terms.settings.values():
            for what, levels in (("deductible", s.deductible.level), ("ratio", s.ratio)):
                if set(levels) != set(LEVELS):
                    found.append(f"{s.name}.{what}: levels {sorted(levels)}, want 1, 2, 3{when}")
            for level, bands in s.ratio.items():
                found += [f"{s.name}.ratio.level.{level}: {x}{when}" for x in _band_problems(bands)]
            if caps.setdefault(s.cap, s.annual_cap) != s.annual_cap:
                found.append(f"{s.name}: shares cap {s.cap!r} but its annual_cap differs{when}")
        for f in terms.funds:
            found += [f"funds.{f.fund_pay_type}.bands: {x}{when}" for x in _band_problems(f.bands)]
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
