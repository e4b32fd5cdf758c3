"""The world the simulators run: provinces, their pooling regions, hospitals, catalogs (就医地目录),
benefit policies (参保地待遇), the national hub and the test persons (真人真卡), read from a YAML file a
province can replace with its own (``world/data/default.yaml`` is the embedded default).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import identity, schema
from .policy import Patient, Policy
from .policy import parse as parse_policy
from .policy import problems as policy_problems
from .schema import WorldError


def dedc_level(hosp_lv: str) -> str:
    """hosp_lv 01–04 三级 → 3, 05–07 二级 → 2, 08–11 一级/无等级 → 1."""
    n = int(hosp_lv)
    return "3" if n <= 4 else "2" if n <= 7 else "1"


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass(frozen=True)
class Account:
    """A system's credentials at a gateway: msgid prefix, x-tif-paasid and its secret."""

    code: str  # 12 characters: msgids start with it
    paasid: str
    secret: str


@dataclass(frozen=True)
class Item:
    """An item of the national list (医保目录): what a hospital uploads as med_list_codg."""

    code: str
    name: str
    med_chrgitm_type: str  # 01–14
    list_type: str
    price: Decimal  # a typical unit price, for generated fees


@dataclass(frozen=True)
class CatalogEntry:
    """How one treatment province classifies an item (就医地目录)."""

    item: Item
    chrgitm_lv: str  # 01 甲 · 02 乙 · 03 丙
    selfpay_prop: Decimal  # 乙类先行自付比例 (0 for 甲, 1 for 丙)
    price_cap: Decimal | None  # 定价上限: above it the line is over-limit self-pay


@dataclass(frozen=True)
class Hospital:
    code: str  # fixmedins_code, 12 characters
    name: str
    hosp_lv: str  # 01 三级特等 … 11 无等级
    admdvs: str  # the city it is in (mdtrtarea_admvs)
    province: str  # its province's admdvs, e.g. 510000
    paasid: str
    secret: str

    @property
    def account(self) -> Account:
        return Account(self.code, self.paasid, self.secret)

    @property
    def dedc_level(self) -> str:
        return dedc_level(self.hosp_lv)


@dataclass(frozen=True)
class Province:
    admdvs: str  # e.g. 510000
    name: str
    regions: Mapping[str, str]  # pooling regions (统筹区): admdvs → name
    platform: Account  # the province's platform, as it calls the hub
    hospitals: Mapping[str, Hospital]
    catalog: Mapping[str, CatalogEntry]
    policies: Mapping[str, Policy]


@dataclass(frozen=True)
class Filing:
    sn: str  # trt_dcla_detl_sn
    fil_type: str  # fil_type code table
    mdtrtarea: str  # where care is filed for: a city, or a province (xx0000) for all of it
    begndate: date
    enddate: date | None
    status: str = "1"  # 1 有效 · 2 已变更 · 3 已撤销

    def covers(self, admdvs: str, day: date) -> bool:
        if self.status != "1":
            return False
        place = admdvs == self.mdtrtarea or (
            self.mdtrtarea.endswith("0000") and admdvs[:2] == self.mdtrtarea[:2]
        )
        return place and self.begndate <= day and (self.enddate is None or day <= self.enddate)


@dataclass(frozen=True)
class Card:
    cardno: str
    card_sn: str
    status: str = "1"  # card_stas: 1 正常 · 2 挂失 · 3 注销
    admdvs: str = ""  # issuing region


@dataclass(frozen=True)
class Person:
    key: str  # roster id (P01 …), what a tester is told to use
    psn_no: str
    name: str
    certno: str
    gend: str
    naty: str
    brdy: date
    insuplc_admdvs: str  # insured pooling region
    insutype: str
    psn_type: str
    cvlserv_flag: str
    emp_name: str
    card: Card
    psn_insu_stas: str = "1"  # 1 正常参保 · 4 暂停参保
    paus_insu_date: date | None = None
    account_balance: Decimal = Decimal(0)
    # usage before the scenarios, by year: inpatient deductible and pooled fund paid, stays, funds' payments
    ytd: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    idet: frozenset[str] = frozenset()  # 人员身份类别 (psn_idet_type): 低保, 特困 … as the policy names them
    years: int | None = None  # years of contribution (缴费年限), where a policy asks
    filings: tuple[Filing, ...] = ()
    scenario: str = ""  # 中文: what this person is for in joint tests
    crowd: bool = False  # one of the load crowd (压力测试人员), not a joint-test scenario

    @property
    def province(self) -> str:
        return self.insuplc_admdvs[:2] + "0000"

    @property
    def retired(self) -> bool:
        return self.psn_type.startswith("12") or self.psn_type == "1300"

    def age(self, on: date) -> int:
        """Whole years of age on a day."""
        return on.year - self.brdy.year - ((on.month, on.day) < (self.brdy.month, self.brdy.day))

    def patient(self, on: date) -> Patient:
        """The person as a benefit policy sees them on a day (its counting day)."""
        return Patient(self.psn_type, self.age(on), self.idet, self.years)


@dataclass(frozen=True)
class Topology:
    name: str
    hub: Account
    agency: Account  # the filing channel (national app, windows) that sends Y2501–Y2504
    items: Mapping[str, Item]
    provinces: Mapping[str, Province]
    persons: Mapping[str, Person]  # by psn_no
    clock: datetime | None = None  # the day its scenarios are written for; the simulated clock starts here
    source: str = ""
    prepayment: Mapping[str, Any] = field(default_factory=dict)  # how funds are sized and watched (clearing)

    def province_of(self, admdvs: str) -> Province | None:
        return self.provinces.get(admdvs[:2] + "0000")

    def hospital(self, code: str) -> Hospital | None:
        return next((p.hospitals[code] for p in self.provinces.values() if code in p.hospitals), None)

    def fee_items(self, hospital: str, n: int) -> list[tuple[str, float, float]]:
        """``n`` fee lines a HIS of this hospital bills: its province's catalog in turn, as
        (national code, quantity 1–3, unit price)."""
        found = self.hospital(hospital)
        province = self.province_of(found.admdvs) if found else None
        if province is None:
            raise KeyError(f"no hospital {hospital} in topology {self.name}")
        catalog = list(province.catalog.values())
        return [
            (e.item.code, 1 + i % 3, float(e.item.price))
            for i, e in ((i, catalog[i % len(catalog)]) for i in range(n))
        ]

    def person(self, key_or_psn_no: str) -> Person | None:
        return self.persons.get(key_or_psn_no) or next(
            (p for p in self.persons.values() if p.key == key_or_psn_no), None
        )

    def accounts(self) -> dict[str, Account]:
        """Every account that may call a gateway, by paasid."""
        out = {self.hub.paasid: self.hub, self.agency.paasid: self.agency}
        for province in self.provinces.values():
            out[province.platform.paasid] = province.platform
            out.update({h.paasid: h.account for h in province.hospitals.values()})
        return out


# ── loading ───────────────────────────────────────────────────────────


def default_path() -> Path:
    return Path(str(resources.files("yidi.world") / "data" / "default.yaml"))


def _account(raw: Mapping[str, Any]) -> Account:
    return Account(str(raw["code"]), str(raw["paasid"]), str(raw["secret"]))


def _catalog(items: Mapping[str, Item], raw: Mapping[str, Any]) -> dict[str, CatalogEntry]:
    """``code: 'lv selfpay cap'`` — e.g. ``'02 0.10 45.00'`` (cap ``-`` for none)."""
    out = {}
    for code, text in raw.items():
        if str(code) not in items:
            raise ValueError(f"catalog names item {code}, which is not in the national items")
        parts = str(text).split()
        if len(parts) != 3:
            raise ValueError(f"catalog entry {code}: expected 'LV SELFPAY CAP', got {text!r}")
        lv, selfpay, cap = parts
        out[str(code)] = CatalogEntry(items[str(code)], lv, _dec(selfpay), None if cap == "-" else _dec(cap))
    return out


def _province(admdvs: str, raw: Mapping[str, Any], items: Mapping[str, Item]) -> Province:
    hospitals = {
        str(h["code"]): Hospital(
            str(h["code"]),
            str(h["name"]),
            str(h["level"]),
            str(h["admdvs"]),
            admdvs,
            str(h["paasid"]),
            str(h["secret"]),
        )
        for h in raw["hospitals"]
    }
    return Province(
        admdvs=admdvs,
        name=str(raw["name"]),
        regions={str(k): str(v) for k, v in raw["regions"].items()},
        platform=_account(raw["platform"]),
        hospitals=hospitals,
        catalog=_catalog(items, raw["catalog"]),
        policies={str(k): parse_policy(str(k), v) for k, v in raw["policies"].items()},
    )


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _person(raw: Mapping[str, Any], seed: int) -> Person:
    key = str(raw["key"])
    made = identity.make(key, str(raw["insured"]), seed, gender=raw.get("gend"), born=_date(raw.get("brdy")))
    card = raw.get("card") or {}
    filings = tuple(
        Filing(
            sn=str(f.get("sn") or identity.filing_sn(str(raw["insured"]), key, i)),
            fil_type=str(f["type"]),
            mdtrtarea=str(f["at"]),
            begndate=_date(f["from"]) or date.min,
            enddate=_date(f.get("to")),
            status=str(f.get("status", "1")),
        )
        for i, f in enumerate(raw.get("filings") or ())
    )
    return Person(
        key=key,
        psn_no=str(raw.get("psn_no") or made.psn_no),
        name=str(raw.get("name") or made.name),
        certno=str(raw.get("certno") or made.certno),
        gend=str(raw.get("gend") or made.gend),
        naty=str(raw.get("naty", "01")),
        brdy=_date(raw.get("brdy")) or made.brdy,
        insuplc_admdvs=str(raw["insured"]),
        insutype=str(raw["insutype"]),
        psn_type=str(raw["psn_type"]),
        cvlserv_flag=str(raw.get("cvlserv_flag", "0")),
        emp_name=str(raw.get("emp_name", "")),
        card=Card(
            cardno=str(card.get("cardno") or made.cardno),
            card_sn=str(card.get("card_sn") or made.card_sn),
            status=str(card.get("status", "1")),
            admdvs=str(raw["insured"]),
        ),
        psn_insu_stas=str(raw.get("psn_insu_stas", "1")),
        paus_insu_date=_date(raw.get("paus_insu_date")),
        account_balance=_dec(raw.get("account", 0)),
        ytd={int(y): dict(u) for y, u in (raw.get("ytd") or {}).items()},
        idet=frozenset(str(x) for x in raw.get("idet") or ()),
        years=raw.get("years"),
        filings=filings,
        scenario=str(raw.get("scenario", "")),
        crowd=bool(raw.get("crowd", False)),
    )


def _crowd(raw: Mapping[str, Any], provinces: Mapping[str, Province]) -> list[dict[str, Any]]:
    """The load crowd (压力测试人员) as person entries: insured in every province's regions in turn, each
    filed for the whole next province from 2020 on, so that any of them can be treated there at any time of
    a load run. A third each: retired employees under 异地安置 (filing type 1), employees under 常驻异地工作
    (3), residents under 异地长期居住 (2)."""
    order = list(provinces)
    homes = [(p, region) for p in order for region in provinces[p].regions]
    kinds = (("310", "1201", "1"), ("310", "1101", "3"), ("390", "1501", "2"))  # insutype, psn_type, fil_type
    entries = []
    for i in range(int(raw.get("size", 0))):
        province, region = homes[i % len(homes)]
        insutype, psn_type, fil_type = kinds[i % len(kinds)]
        entries.append(
            {
                "key": f"{raw.get('key', 'L')}{i + 1:05d}",
                "insured": region,
                "insutype": insutype,
                "psn_type": psn_type,
                "account": raw.get("account", 2000) if insutype == "310" else 0,
                "filings": [
                    {
                        "type": fil_type,
                        "at": order[(order.index(province) + 1) % len(order)],
                        "from": "2020-01-01",
                    }
                ],
                "scenario": "压力测试人员：异地长期居住或工作，直接结算，用于 yidi load",
                "crowd": True,
            }
        )
    return entries


def load(path: Path | str | None = None, *, crowd: int | None = None) -> Topology:
    """The topology in ``path`` (default: the embedded one). Parsed once per file version: the suites
    ask for it in every case, and a topology is immutable. ``crowd``: at least this many persons in the
    load crowd (a national-scale load run needs more than a world keeps for everyday runs)."""
    path = Path(path) if path else default_path()
    return _load(path, path.stat().st_mtime_ns, crowd)


@functools.cache
def _load(path: Path, version: int, crowd: int | None = None) -> Topology:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise WorldError(path, "", f"not YAML: {e}") from None
    schema.check(raw, path)
    items = {
        str(code): Item(str(code), str(i["name"]), str(i["type"]), str(i["list_type"]), _dec(i["price"]))
        for code, i in raw["items"].items()
    }
    seed = int(raw.get("seed", 0))
    provinces = {str(k): _province(str(k), v, items) for k, v in raw["provinces"].items()}
    crowd_raw = dict(raw.get("crowd") or {})
    if crowd and crowd > int(crowd_raw.get("size", 0)):
        crowd_raw["size"] = crowd
    entries = [*raw["persons"], *_crowd(crowd_raw, provinces)]
    keys = Counter(str(p["key"]) for p in entries)
    repeated = sorted(k for k, n in keys.items() if n > 1)
    if repeated:
        raise WorldError(path, "persons", f"key(s) used twice: {', '.join(repeated)}")
    persons = [_person(p, seed) for p in entries]
    topology = Topology(
        name=str(raw["name"]),
        hub=_account(raw["hub"]),
        agency=_account(
            raw.get("agency")
            or {"code": "A00000000000", "paasid": "yidi-agency", "secret": "yidi-agency-secret"}
        ),
        items=items,
        provinces=provinces,
        persons={p.psn_no: p for p in persons},
        clock=datetime.fromisoformat(str(raw["clock"])) if raw.get("clock") else None,
        source=str(path),
        prepayment=dict(raw.get("prepayment") or {}),
    )
    problems = check(topology)
    if problems:
        where, _, what = problems[0].partition(": ")
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise WorldError(path, where, what + more)
    return topology


def check(t: Topology) -> list[str]:
    """What the schema cannot see that would make the simulators misbehave, one ``where: what`` each:
    unknown regions, credentials used twice, policies that do not hold together, bad identities."""
    problems = []
    seen: dict[str, str] = {t.hub.paasid: "hub", t.agency.paasid: "agency"}

    def once(paasid: str, where: str) -> None:
        if paasid in seen:
            problems.append(f"{where}.paasid: {paasid} is used twice (also by {seen[paasid]})")
        seen[paasid] = where

    for p in t.provinces.values():
        at = f"provinces.{p.admdvs}"
        once(p.platform.paasid, f"{at}.platform")
        for i, h in enumerate(p.hospitals.values()):
            if h.admdvs not in p.regions:
                problems.append(f"{at}.hospitals[{i}].admdvs: {h.admdvs} is not a region of {p.admdvs}")
            once(h.paasid, f"{at}.hospitals[{i}]")
        since = t.clock.date() if t.clock else None
        for insutype, policy in p.policies.items():
            for where, what in policy_problems(policy, since):
                problems.append(f"{at}.policies.{insutype}{'.' if where else ''}{where}: {what}")
    for person in t.persons.values():
        at, province = f"persons[{person.key}]", t.province_of(person.insuplc_admdvs)
        if province is None:
            problems.append(f"{at}.insured: {person.insuplc_admdvs} is in no province of the world")
        elif person.insuplc_admdvs not in province.regions:
            problems.append(f"{at}.insured: {person.insuplc_admdvs} is not a region of {province.admdvs}")
        elif person.insutype not in province.policies:
            problems.append(f"{at}.insutype: {province.admdvs} has no policy for insutype {person.insutype}")
        if not identity.valid_certno(person.certno):
            problems.append(f"{at}.certno: {person.certno} fails its check digit (GB 11643)")
    return problems
