"""The embedded default topology (world/data/default.yaml) and its loader.

The negative test persons are found by their attributes, never by their scenario text, so a roster
edit that loses one of the joint-test cases fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from yidi.specs import loader
from yidi.world import identity, topology
from yidi.world.policy import LEVELS, Terms
from yidi.world.roster import roster
from yidi.world.topology import Person, Topology

TODAY = date(2026, 11, 23)  # the simulated "today" the roster is written for
YEAR = TODAY.year

PROVINCES = {
    "510000": ("四川省", {"510100": "成都市", "510400": "攀枝花市"}),
    "500000": ("重庆市", {"500000": "重庆市"}),
    "610000": ("陕西省", {"610100": "西安市", "610900": "安康市"}),
    "330000": ("浙江省", {"330100": "杭州市"}),
    "110000": ("北京市", {"110000": "北京市"}),
}
CHRGITM_TYPES = {f"{n:02d}" for n in range(1, 15)}
LIST_TYPES = {"101", "102", "103", "201", "301"}
HOSP_LV = {f"{n:02d}" for n in range(1, 12)}
PSN_TYPES = (
    {"1101", "1102", "1103", "1201", "1202", "1203", "1300"} | {f"140{n}" for n in range(1, 6)} | {"1501"}
)
FIL_TYPES = {"1", "2", "3", "4", "5", "6"}


@pytest.fixture(scope="module")
def topo() -> Topology:
    return topology.load()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(topology.default_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def persons(topo: Topology) -> list[Person]:
    """The joint-test persons (真人真卡), without the load crowd."""
    return sorted((p for p in topo.persons.values() if not p.crowd), key=lambda p: p.key)


def active(person: Person, admdvs: str, day: date = TODAY) -> bool:
    """Whether a valid (status 1) filing of the person covers care in admdvs on day."""
    return any(f.status == "1" and f.covers(admdvs, day) for f in person.filings)


def filed_in(topo: Topology, person: Person, province: str, day: date = TODAY) -> bool:
    """Whether a valid filing covers care somewhere in the province (in one of its regions)."""
    return any(active(person, region, day) for region in topo.provinces[province].regions)


def regions(topo: Topology) -> set[str]:
    return {r for p in topo.provinces.values() for r in p.regions}


def policy_of(topo: Topology, person: Person) -> Terms:
    province = topo.province_of(person.insuplc_admdvs)
    assert province is not None, person.key
    return province.policies[person.insutype].on(TODAY)


def find(persons: list[Person], test: Callable[[Person], bool]) -> list[str]:
    return [p.key for p in persons if test(p)]


def dump(tmp_path: Path, raw: dict[str, Any], name: str = "topology.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ── the default loads ─────────────────────────────────────────────────


def test_default_loads_and_checks_clean(topo: Topology) -> None:
    assert topology.check(topo) == []
    assert topology.default_path() == Path(topology.__file__).parent / "data" / "default.yaml"
    assert topo.source == str(topology.default_path())
    assert topo.name


def test_provinces_and_regions(topo: Topology) -> None:
    assert set(topo.provinces) == set(PROVINCES)
    for admdvs, (name, named_regions) in PROVINCES.items():
        province = topo.provinces[admdvs]
        assert province.name == name
        assert dict(province.regions) == named_regions
        for region in named_regions:
            assert topo.province_of(region) is province


def test_accounts_are_well_formed_and_unique(topo: Topology, raw: dict[str, Any]) -> None:
    assert len(topo.hub.code) == 12
    paasids = [topo.hub.paasid, topo.agency.paasid]
    for admdvs, province in topo.provinces.items():
        assert province.platform.code == f"P{admdvs}00000"
        paasids.append(province.platform.paasid)
        paasids += [h.paasid for h in province.hospitals.values()]
    assert len(paasids) == len(set(paasids)), "a paasid is used twice"
    assert len(topo.accounts()) == len(paasids)
    hospital_codes = [h["code"] for p in raw["provinces"].values() for h in p["hospitals"]]
    assert len(hospital_codes) == len(set(hospital_codes)), "a fixmedins_code is used twice"


def test_hospitals(topo: Topology) -> None:
    for admdvs, province in topo.provinces.items():
        assert 2 <= len(province.hospitals) <= 4, admdvs
        assert len({h.dedc_level for h in province.hospitals.values()}) >= 2, f"{admdvs}: one dedc level only"
        for code, h in province.hospitals.items():
            assert code == h.code
            assert len(code) == 12 and code[0] == "H" and code[1:7] == h.admdvs and code[7:].isdigit(), code
            assert h.province == admdvs and h.admdvs in province.regions
            assert h.hosp_lv in HOSP_LV
            assert h.dedc_level == topology.dedc_level(h.hosp_lv)
            assert topo.hospital(code) is h
    # every hospital city has a hospital, so a test can be run in every named region
    assert {h.admdvs for p in topo.provinces.values() for h in p.hospitals.values()} == regions(topo)


@pytest.mark.parametrize(
    ("hosp_lv", "level"),
    [("01", "3"), ("02", "3"), ("04", "3"), ("05", "2"), ("07", "2"), ("08", "1"), ("11", "1")],
)
def test_dedc_level(hosp_lv: str, level: str) -> None:
    assert topology.dedc_level(hosp_lv) == level


# ── the national list and the treatment-place catalogs ────────────────


def test_items_cover_every_category_and_list_type(topo: Topology) -> None:
    assert 25 <= len(topo.items) <= 40
    assert {i.med_chrgitm_type for i in topo.items.values()} == CHRGITM_TYPES
    assert {i.list_type for i in topo.items.values()} == LIST_TYPES
    for code, item in topo.items.items():
        assert item.code == code and 0 < len(code) <= 50
        assert item.name and item.price > 0


def test_catalog_entries_are_consistent(topo: Topology) -> None:
    for province in topo.provinces.values():
        assert len(province.catalog) >= 20, province.admdvs
        for code, entry in province.catalog.items():
            assert entry.item is topo.items[code]
            where = f"{province.admdvs} {code}"
            if entry.chrgitm_lv == "01":
                assert entry.selfpay_prop == 0, where
            elif entry.chrgitm_lv == "02":
                assert Decimal("0.05") <= entry.selfpay_prop <= Decimal("0.20"), where
            else:
                assert entry.chrgitm_lv == "03" and entry.selfpay_prop == 1, where
            assert entry.price_cap is None or entry.price_cap > 0, where


def test_catalogs_differ_across_provinces(topo: Topology) -> None:
    by_item: dict[str, dict[str, tuple[str, Decimal]]] = {}
    for province in topo.provinces.values():
        for code, entry in province.catalog.items():
            by_item.setdefault(code, {})[province.admdvs] = (entry.chrgitm_lv, entry.selfpay_prop)
    # the same item 甲 in one province, 乙 in another, 丙 in a third
    assert any({lv for lv, _ in grades.values()} == {"01", "02", "03"} for grades in by_item.values())
    # the same 乙 item with different self-pay shares
    assert any(len({sp for lv, sp in grades.values() if lv == "02"}) >= 2 for grades in by_item.values())
    # an item of the national list missing from some province's catalog (不在就医地目录)
    absent = {code: set(topo.provinces) - set(by_item.get(code, {})) for code in topo.items}
    assert any(absent.values())
    assert sum(1 for provinces in absent.values() if provinces) >= 2
    # an item capped below its typical price somewhere (超限价自费)
    over = [
        (p.admdvs, code)
        for p in topo.provinces.values()
        for code, e in p.catalog.items()
        if e.price_cap is not None and e.price_cap < e.item.price
    ]
    assert len({admdvs for admdvs, _ in over}) >= 2, over


# ── the insured-place policies ────────────────────────────────────────


def test_policies(topo: Topology) -> None:
    for admdvs, province in topo.provinces.items():
        assert {"310", "390"} <= set(province.policies), admdvs
        for insutype, dated in province.policies.items():
            where = f"{admdvs} {insutype}"
            policy = dated.on(TODAY)
            assert dated.insutype == policy.insutype == insutype
            assert policy.fund_pay_type == f"{insutype}100", where
            for name in ("inpatient", "outpatient"):
                setting = policy.setting(name)
                d, r = setting.deductible.level, {k: v[0].ratio for k, v in setting.ratio.items()}
                assert d["1"] <= d["2"] <= d["3"], f"{where}: deductible must rise with the level"
                assert r["1"] >= r["2"] >= r["3"], f"{where}: ratio must fall with the level"
                assert all(0 < x <= 1 for x in r.values()) and setting.annual_cap > 0, where
            inpatient, outpatient = policy.setting("inpatient"), policy.setting("outpatient")
            assert outpatient.annual_cap < inpatient.annual_cap, where
            for fil_type, reduction in policy.temporary_reduction.items():
                limit = Decimal("0.20") if fil_type == "5" else Decimal("0.10")
                assert fil_type in {"4", "5", "6"} and 0 <= reduction <= limit, where
            for level in LEVELS:
                assert outpatient.deductible.level[level] <= inpatient.deductible.level[level], admdvs
        employees, residents = (province.policies[x].on(TODAY) for x in ("310", "390"))
        assert employees.account and not residents.account
        assert [f.fund_pay_type for f in employees.funds] == ["330100"]  # 大额 above the cap
        assert [f.fund_pay_type for f in residents.funds] == ["390200"]  # 大病
        assert any(a.who.retired and a.add["3"] > 0 for a in employees.adjustments)
        assert set(employees.temporary_reduction) == set(residents.temporary_reduction) == {"4", "5", "6"}
        for level in LEVELS:
            assert (
                employees.setting("inpatient").ratio[level][0].ratio
                > residents.setting("inpatient").ratio[level][0].ratio
            ), admdvs
        assert 600 <= employees.setting("inpatient").deductible.level["3"] <= 1000
        assert 800 <= residents.setting("inpatient").deductible.level["3"] <= 1000
    sichuan = topo.provinces["510000"].policies["310"].on(TODAY)
    assert sichuan.setting("inpatient").annual_cap == 350000  # the seeds' 35万
    employee_rules = {
        (
            tuple(p.policies["310"].on(TODAY).setting("inpatient").deductible.level.values()),
            tuple(b[0].ratio for b in p.policies["310"].on(TODAY).setting("inpatient").ratio.values()),
        )
        for p in topo.provinces.values()
    }
    assert len(employee_rules) == len(topo.provinces), "provinces should not share one employee policy"


# ── the persons ───────────────────────────────────────────────────────


def test_the_load_crowd_can_each_be_treated_in_another_province(topo: Topology, raw: dict[str, Any]) -> None:
    crowd = [p for p in topo.persons.values() if p.crowd]
    assert len(crowd) == raw["crowd"]["size"] >= 1000
    everyone = list(topo.persons.values())
    for attribute in ("psn_no", "certno"):
        assert len({getattr(p, attribute) for p in everyone}) == len(everyone), attribute
    assert len({p.card.card_sn for p in everyone}) == len(everyone)
    for p in crowd:
        (filing,) = p.filings
        assert filing.mdtrtarea[:2] != p.insuplc_admdvs[:2], p.key
        assert filed_in(topo, p, filing.mdtrtarea) and topo.provinces[filing.mdtrtarea].hospitals, p.key
        assert p.card.status == "1" and p.psn_insu_stas == "1" and identity.valid_certno(p.certno)
    assert {p.province for p in crowd} == set(topo.provinces)
    assert {p.retired for p in crowd} == {True, False} and {p.insutype for p in crowd} == {"310", "390"}


def test_a_load_run_can_ask_for_a_larger_crowd(topo: Topology) -> None:
    larger = topology.load(crowd=2500)
    crowd = sorted(p.key for p in larger.persons.values() if p.crowd)
    assert len(crowd) == 2500 and crowd[-1] == "L02500"
    assert len({p.psn_no for p in larger.persons.values()}) == len(larger.persons)
    assert sum(p.crowd for p in topology.load(crowd=10).persons.values()) == 1000  # never fewer


def test_the_roster_lists_the_crowd_apart_from_the_joint_test_persons(topo: Topology) -> None:
    listed = roster(topo, "http://x", loader.load().ref)
    assert {p["key"] for p in listed["persons"]} == {p.key for p in topo.persons.values() if not p.crowd}
    assert len(listed["crowd"]) == sum(p.crowd for p in topo.persons.values())
    assert listed["crowd"][0].keys() == listed["persons"][0].keys()


def test_persons_are_complete_and_unique(topo: Topology, raw: dict[str, Any], persons: list[Person]) -> None:
    assert len(persons) >= 40
    assert len(persons) == len(raw["persons"]), "a person was lost (psn_no used twice?)"
    keys = [p.key for p in persons]
    assert len(set(keys)) == len(keys)
    assert all(k.startswith("P") and k[1:].isdigit() for k in keys)
    assert len({p.psn_no for p in persons}) == len(persons)
    assert len({p.certno for p in persons}) == len(persons)
    assert len({p.card.cardno for p in persons}) == len(persons)
    assert len({p.card.card_sn for p in persons}) == len(persons)
    known = regions(topo)
    for p in persons:
        assert identity.valid_certno(p.certno), p.key
        assert p.certno[6:14] == f"{p.brdy:%Y%m%d}", p.key
        assert int(p.certno[16]) % 2 == (1 if p.gend == "1" else 0), f"{p.key}: sex digit and gend disagree"
        assert p.psn_no.startswith(p.insuplc_admdvs)
        assert p.insuplc_admdvs in known, p.key
        assert p.card.admdvs == p.insuplc_admdvs
        assert policy_of(topo, p).insutype == p.insutype
        assert p.psn_type in PSN_TYPES, p.key
        assert p.scenario, p.key
        assert topo.person(p.key) is p and topo.person(p.psn_no) is p
        for f in p.filings:
            assert f.fil_type in FIL_TYPES and f.status in {"1", "2", "3"}, p.key
            assert f.mdtrtarea in known or f.mdtrtarea in topo.provinces, f"{p.key}: filed for {f.mdtrtarea}"
            assert f.mdtrtarea[:2] != p.insuplc_admdvs[:2], f"{p.key}: cross-province filing expected"
            assert f.enddate is None or f.begndate <= f.enddate, p.key
            assert f.sn and len(f.sn) <= 30
    sns = [f.sn for p in persons for f in p.filings]
    assert len(sns) == len(set(sns))


def test_kinds_of_person(topo: Topology, persons: list[Person]) -> None:
    types = {p.psn_type for p in persons}
    assert {"1101", "1201", "1501"} <= types
    assert any(p.retired for p in persons) and any(not p.retired for p in persons)
    assert {p.insutype for p in persons} >= {"310", "390"}
    # employees have a personal account balance to pay from; residents have none
    for p in persons:
        policy = policy_of(topo, p)
        if not policy.account:
            assert p.account_balance == 0, p.key
    assert sum(1 for p in persons if p.account_balance > 0) >= 10
    # every province has insured persons of both insutypes
    for admdvs in topo.provinces:
        assert {p.insutype for p in persons if p.province == admdvs} >= {"310", "390"}, admdvs


def test_every_filing_type_for_several_provinces(persons: list[Person]) -> None:
    filings = [(p, f) for p in persons for f in p.filings]
    assert {f.fil_type for _, f in filings} == FIL_TYPES
    valid = [(p, f) for p, f in filings if f.status == "1"]
    assert len({p.province for p, _ in valid}) >= 4, "filings from several insured provinces"
    assert len({f.mdtrtarea[:2] for _, f in valid}) >= 4, "filings to several treatment provinces"
    for p, f in valid:
        if f.fil_type == "1":
            assert p.retired, f"{p.key}: 异地安置退休 needs a retiree"
        if f.fil_type in {"4", "5"}:
            assert f.enddate is not None and (f.enddate - f.begndate).days <= 184, (
                f"{p.key}: 6-month validity"
            )
        if f.fil_type == "6":
            assert f.enddate is not None and (f.enddate - f.begndate).days <= 31, (
                f"{p.key}: emergency is short"
            )
    # each long-term type is held by someone today
    for fil_type in ("1", "2", "3"):
        assert any(f.fil_type == fil_type and f.covers(f.mdtrtarea, TODAY) for _, f in valid), fil_type


def test_every_province_can_be_a_treatment_place(topo: Topology, persons: list[Person]) -> None:
    for admdvs in topo.provinces:
        filed = [p.key for p in persons if p.province != admdvs and filed_in(topo, p, admdvs)]
        assert len(filed) >= 2, f"{admdvs}: too few persons filed for it"


# ── the negative cases, by attribute ──────────────────────────────────


def test_not_filed(topo: Topology, persons: list[Person]) -> None:
    unfiled = [p for p in persons if not p.filings and p.card.status == "1" and p.psn_insu_stas == "1"]
    # unfiled persons (not filed, and emergency deemed filed) from several insured provinces
    assert len({p.province for p in unfiled}) >= 4
    # and purely local persons: each province has someone normal and unfiled to treat at home
    for admdvs in topo.provinces:
        assert any(p.province == admdvs for p in unfiled), admdvs


def test_expired_filing(persons: list[Person]) -> None:
    def expired(p: Person) -> bool:
        return any(
            f.status == "1" and f.enddate is not None and f.enddate < TODAY and not active(p, f.mdtrtarea)
            for f in p.filings
        )

    keys = find(persons, expired)
    assert len(keys) >= 2, keys
    # one expired only yesterday: the boundary day
    assert any(f.enddate == date(2026, 11, 22) for p in persons for f in p.filings)


def test_filed_for_another_province(topo: Topology, persons: list[Person]) -> None:
    for admdvs in topo.provinces:
        elsewhere = [
            p.key
            for p in persons
            if p.province != admdvs
            and any(f.status == "1" and f.covers(f.mdtrtarea, TODAY) for f in p.filings)
            and not filed_in(topo, p, admdvs)
        ]
        assert elsewhere, f"nobody filed for a province other than {admdvs}"
    # filed for one city of a province with several: another city of it is not covered
    several = {a: p for a, p in topo.provinces.items() if len(p.regions) > 1}
    city_only = find(
        persons,
        lambda p: any(
            f.status == "1"
            and f.mdtrtarea[:2] + "0000" in several
            and f.mdtrtarea in several[f.mdtrtarea[:2] + "0000"].regions
            and active(p, f.mdtrtarea)
            and any(not active(p, r) for r in several[f.mdtrtarea[:2] + "0000"].regions)
            for f in p.filings
        ),
    )
    assert city_only
    # a whole-province filing covers every city of it
    assert any(f.status == "1" and f.mdtrtarea in several for p in persons for f in p.filings)


def test_card_lost(persons: list[Person]) -> None:
    lost = [p for p in persons if p.card.status == "2"]
    assert lost and all(p.filings for p in lost), "a lost card should be the only obstacle"


def test_insurance_suspended(persons: list[Person]) -> None:
    suspended = [p for p in persons if p.psn_insu_stas == "4"]
    assert suspended
    for p in suspended:
        assert p.paus_insu_date is not None and p.paus_insu_date <= TODAY, p.key


def test_annual_cap_nearly_used(topo: Topology, persons: list[Person]) -> None:
    def near(p: Person) -> bool:
        cap = policy_of(topo, p).setting("inpatient").annual_cap
        pool = Decimal(str(p.ytd.get(YEAR, {}).get("pool", 0)))
        return cap * Decimal("0.9") <= pool < cap

    keys = find(persons, near)
    assert keys
    # some of them can be treated away from home today, so the supplementary fund is exercised
    assert any(p.key in keys and p.filings for p in persons)


def test_deductible_already_paid(topo: Topology, persons: list[Person]) -> None:
    def paid(p: Person) -> bool:
        policy = policy_of(topo, p)
        used = p.ytd.get(YEAR, {}).get("deductible")
        return (
            used is not None
            and used > 0
            and used in set(policy.setting("inpatient").deductible.level.values())
        )

    assert len(find(persons, paid)) >= 2


def test_filing_revoked_and_changed(persons: list[Person]) -> None:
    revoked = find(persons, lambda p: any(f.status == "3" for f in p.filings))
    assert revoked
    # a revoked filing must leave the person unfiled there
    for p in persons:
        for f in p.filings:
            if f.status == "3":
                assert not active(p, f.mdtrtarea), p.key
    assert any(f.status == "2" for p in persons for f in p.filings), "a changed (已变更) filing"


def test_zero_account_balance(topo: Topology, persons: list[Person]) -> None:
    def broke(p: Person) -> bool:
        policy = policy_of(topo, p)
        return policy.account and p.account_balance == 0 and bool(p.filings)

    assert find(persons, broke)
