"""Casting (选角): who plays a case's part in the world under test.

A case names a person and a hospital of yidi's embedded world (``P12`` at ``H51010000001``). The part is
what that pair *is* — a retired employee of another province, filed for the hospital's region, with money
in the account, nothing used this year, at a tertiary hospital — and any pair of the world under test
that is the same plays it: the case's own pair first where the world has it, else the first that fits. A
world with no such pair makes the case not applicable (不适用), naming the part it lacks. So does a world
whose policy lacks what a case's rule is about (a deductible once a year, one ratio at a level): the money
follower still checks every settlement of such a world to the cent; only the rule's own check has nothing
to hold it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from ..specs.money import yuan
from ..world.policy import Setting, Terms
from ..world.topology import Hospital, Person, Topology

NEARLY = Decimal("0.9")  # a pooled fund used this far is nearly used up
PSN_CLASS = {"11": "在职职工", "12": "退休职工", "13": "离休人员", "14": "学生儿童", "15": "成年居民"}
FILING_ZH = {
    "covers": "已备案至就医地",
    "expired": "就医地备案已过期",
    "changed": "就医地备案已变更至他处",
    "revoked": "就医地备案已撤销",
    "elsewhere": "备案地不是就医地",
    "none": "未备案",
    "-": "本地就医",
}
YTD_ZH = {"none": "本年未使用", "deductible": "本年已付满起付线", "cap": "本年统筹基金将用尽"}


@dataclass(frozen=True)
class Part:
    """What a person and a hospital are to each other on a day: everything a case's steps depend on."""

    where: str  # local · cross (insured in another province than the hospital's)
    insutype: str
    psn_class: str  # psn_type's first two digits: 11 在职, 12 退休, 13 离休, 14 学生儿童, 15 居民
    card: str  # card_stas 1 正常 · 2 挂失 · 3 注销
    insured: str  # psn_insu_stas 1 正常 · 4 暂停
    account: bool  # money in the personal account
    filing: str  # covers · expired · changed · revoked · elsewhere · none · - (local)
    fil_type: str  # the covering filing's type, "" when none covers
    ytd: str  # none · deductible (paid up this year) · cap (pooled fund nearly used)
    level: str  # the hospital's deductible level 1 / 2 / 3

    @property
    def zh(self) -> str:
        """The part as a tester reads it."""
        return "，".join(
            x
            for x in (
                "本地参保" if self.where == "local" else "外省参保",
                {"310": "职工医保", "390": "城乡居民医保"}.get(self.insutype, f"险种{self.insutype}"),
                PSN_CLASS.get(self.psn_class, self.psn_class),
                {"1": "", "2": "社保卡挂失", "3": "社保卡注销"}.get(self.card, f"卡状态{self.card}"),
                "" if self.insured == "1" else "暂停参保",
                "个人账户有余额" if self.account else "",
                FILING_ZH[self.filing] + (f"（类型{self.fil_type}）" if self.fil_type else ""),
                YTD_ZH[self.ytd],
                f"{self.level}级医院",
            )
            if x
        )


def part(world: Topology, person: Person, hospital: Hospital, day: date) -> Part:
    """What ``person`` is at ``hospital`` on ``day`` in ``world``."""
    cross = person.province != hospital.province
    return Part(
        where="cross" if cross else "local",
        insutype=person.insutype,
        psn_class=person.psn_type[:2],
        card=person.card.status,
        insured=person.psn_insu_stas,
        account=person.account_balance > 0,
        filing=_filing(person, hospital, day) if cross else "-",
        fil_type=_covering(person, hospital, day) if cross else "",
        ytd=_ytd(world, person, hospital, day),
        level=hospital.dedc_level,
    )


def _covering(person: Person, hospital: Hospital, day: date) -> str:
    """The type of the valid filing that covers care at the hospital on the day, "" when none does."""
    return next(
        (f.fil_type for f in person.filings if f.status == "1" and f.covers(hospital.admdvs, day)), ""
    )


def _filing(person: Person, hospital: Hospital, day: date) -> str:
    here = [f for f in person.filings if f.covers(hospital.admdvs, f.begndate)]  # for this place, any day
    if any(f.status == "1" and f.covers(hospital.admdvs, day) for f in here):
        return "covers"
    if any(f.status == "1" and f.enddate is not None and f.enddate < day for f in here):
        return "expired"
    if any(f.status == "2" for f in here):
        return "changed"
    if any(f.status == "3" for f in here):
        return "revoked"
    return "elsewhere" if any(f.status == "1" for f in person.filings) else "none"


def _ytd(world: Topology, person: Person, hospital: Hospital, day: date) -> str:
    used = person.ytd.get(day.year) or {}
    province = world.province_of(person.insuplc_admdvs)
    if not used or province is None or person.insutype not in province.policies:
        return "none"
    inpatient = province.policies[person.insutype].on(day).setting("inpatient")
    cap, pool = inpatient.annual_cap, yuan(used.get("pool"))
    if cap is not None and pool >= cap * NEARLY:
        return "cap"
    return (
        "deductible"
        if yuan(used.get("deductible")) >= inpatient.deductible.level[hospital.dedc_level]
        else "none"
    )


class NotApplicable(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """The world under test has nobody to play a case's part, or no policy its rule is about: neither a
    failure nor a silent skip."""

    def __init__(self, why: str) -> None:
        super().__init__(f"不适用：被测世界中{why}")


def inpatient(world: Topology, person: str, hospital: str) -> tuple[Terms, Setting, str]:
    """The inpatient terms of the person's insurance in force on the world's day, and the hospital's
    deductible level."""
    p, h = world.person(person), world.hospital(hospital)
    province = world.province_of(p.insuplc_admdvs) if p else None
    if p is None or h is None or province is None or p.insutype not in province.policies:
        raise NotApplicable(f"{person}或{hospital}没有参保地待遇")
    terms = province.policies[p.insutype].on(Cast.day(world))
    return terms, terms.setting("inpatient"), h.dedc_level


def yearly_deductible(world: Topology, person: str, hospital: str) -> None:
    """R-BEN-01's cases need a deductible paid once a year (起付线按年): NotApplicable if it is per stay."""
    if inpatient(world, person, hospital)[1].deductible.per != "year":
        raise NotApplicable(f"{person}参保地的住院起付线按次计，不是每年一次（R-BEN-01所验）")


def one_ratio(world: Topology, person: str, hospital: str) -> None:
    """A case comparing what two persons' pooled funds paid as a ratio needs one ratio at the hospital's
    level, for the person (no bands, 分段): NotApplicable otherwise."""
    terms, setting, level = inpatient(world, person, hospital)
    patient = world.person(person).patient(Cast.day(world))  # type: ignore[union-attr]
    bands = setting.ratio[level]
    for a in terms.adjustments:  # applied in order: the last that replaces the ratio wins
        if a.ratio and level in a.ratio and a.who.covers(patient):
            bands = a.ratio[level]
    if len(bands) > 1:
        raise NotApplicable(f"{person}在{hospital}的统筹支付比例分段（{level}级），两人的实际比例不可比")


class Cast:
    """Who plays each part in ``world``, the parts being defined by ``reference`` (the embedded world)."""

    def __init__(self, reference: Topology, world: Topology) -> None:
        self.reference, self.world = reference, world
        self.found: dict[tuple[str, str], tuple[str, str]] = {}

    @staticmethod
    def day(world: Topology) -> date:
        return world.clock.date() if world.clock else date.today()

    def __call__(self, person: str, hospital: str) -> tuple[str, str]:
        """The world's (person key, hospital code) playing the reference's pair (:class:`NotApplicable`)."""
        if (person, hospital) not in self.found:
            self.found[person, hospital] = self._cast(person, hospital)
        return self.found[person, hospital]

    def _cast(self, person: str, hospital: str) -> tuple[str, str]:
        ref_person, ref_hospital = self.reference.person(person), self.reference.hospital(hospital)
        if ref_person is None or ref_hospital is None:  # not a part of the reference: the world's own names
            return person, hospital
        wanted = part(self.reference, ref_person, ref_hospital, self.day(self.reference))
        day = self.day(self.world)
        same_person, same_hospital = self.world.person(person), self.world.hospital(hospital)
        pairs = [(same_person, same_hospital)] if same_person and same_hospital else []
        pairs += [
            (p, h)
            for p in sorted(self.world.persons.values(), key=lambda p: (p.crowd, p.key))
            for province in self.world.provinces.values()
            for h in province.hospitals.values()
        ]
        for p, h in pairs:
            if part(self.world, p, h, day) == wanted:
                return p.key, h.code
        raise NotApplicable(f"没有与{person}在{hospital}相当的人员（{wanted.zh}）")
