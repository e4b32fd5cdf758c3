"""A world file is checked when it is loaded (world/schema.yaml and the checks the schema cannot make): each
mistake is one error naming the file, the place in it and what is expected there."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from yidi.world import topology
from yidi.world.schema import WorldError


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(topology.default_path().read_text(encoding="utf-8"))


def policy(d: dict[str, Any]) -> dict[str, Any]:
    return d["provinces"]["510000"]["policies"]["310"]  # type: ignore[no-any-return]


REFUSALS: list[tuple[str, Callable[[dict[str, Any]], object], str, str]] = [
    (
        "an unknown key (a policy given bands at the wrong place)",
        lambda d: policy(d).update(bands=[{"ratio": 0.8}]),
        "provinces.510000.policies.310",
        "Additional properties are not allowed ('bands' was unexpected)",
    ),
    (
        "a missing value",
        lambda d: policy(d).pop("inpatient"),
        "provinces.510000.policies.310",
        "'inpatient' is a required property",
    ),
    (
        "a value of the wrong kind",
        lambda d: policy(d)["inpatient"]["ratio"]["level"].update({"3": "high"}),
        "provinces.510000.policies.310.inpatient.ratio.level.3",
        "'high' is not valid under any of the given schemas (expected: a ratio between 0 and 1, bands",
    ),
    (
        "a ratio above one",
        lambda d: policy(d)["inpatient"]["ratio"]["level"].update({"3": 1.5}),
        "provinces.510000.policies.310.inpatient.ratio.level.3",
        "1.5 is greater than the maximum of 1 (expected: a share between 0 and 1)",
    ),
    (
        "a dated value below zero",
        lambda d: policy(d)["inpatient"]["deductible"]["level"].update({"3": {date(2026, 1, 1): -5}}),
        "provinces.510000.policies.310.inpatient.deductible.level.3.2026-01-01",
        "-5 is less than the minimum of 0 (expected: yuan)",
    ),
    (
        "a word the format does not have",
        lambda d: policy(d)["inpatient"]["deductible"].update(per="month"),
        "provinces.510000.policies.310.inpatient.deductible.per",
        "'month' is not one of ['year', 'stay']",
    ),
    (
        "bands out of order (the schema cannot see it)",
        lambda d: policy(d)["inpatient"]["ratio"]["level"].update(
            {"3": [{"up_to": 10000, "ratio": 0.8}, {"up_to": 5000, "ratio": 0.9}, {"ratio": 0.95}]}
        ),
        "provinces.510000.policies.310.inpatient.ratio.level.3",
        "up_to must rise band by band, got ['10000', '5000']",
    ),
    (
        "a level missing",
        lambda d: policy(d)["inpatient"]["ratio"]["level"].pop("2"),
        "provinces.510000.policies.310.inpatient.ratio.level",
        "levels ['1', '3'], want 1, 2, 3",
    ),
    (
        "a value that starts after the world's day",
        lambda d: policy(d)["inpatient"].update(annual_cap={date(2027, 1, 1): 400000}),
        "provinces.510000.policies.310",
        "no complete policy in force on 2026-11-23: a value of it starts later",
    ),
    (
        "a hospital in no region of its province",
        lambda d: d["provinces"]["510000"]["hospitals"][0].update(admdvs="510700"),
        "provinces.510000.hospitals[0].admdvs",
        "510700 is not a region of 510000",
    ),
    (
        "a fixmedins_code not 12 characters long",
        lambda d: d["provinces"]["110000"]["hospitals"][0].update(code="H1100000001"),
        "provinces.110000.hospitals[0].code",
        "'H1100000001' does not match '^.{12}$' (expected: fixmedins_code, 12 characters (the msgid prefix))",
    ),
    (
        "a wrong check digit",
        lambda d: d["persons"][0].update(certno="11010519491231002" + "1"),
        "persons[P01].certno",
        "110105194912310021 fails its check digit (GB 11643)",
    ),
    (
        "a person key used twice",
        lambda d: d["persons"].append(copy.deepcopy(d["persons"][0])),
        "persons",
        "key(s) used twice: P01",
    ),
    (
        "a filing for no region",
        lambda d: d["persons"][0]["filings"][0].update(at="99"),
        "persons[0].filings[0].at",
        "'99' does not match",
    ),
    (
        "a person insured where the world has no province",
        lambda d: d["persons"][0].update(insured="450100"),
        "persons[P01].insured",
        "450100 is in no province of the world",
    ),
    (
        "a person with no policy for their insutype",
        lambda d: d["persons"][0].update(insutype="370"),
        "persons[P01].insutype",
        "510000 has no policy for insutype 370",
    ),
    (
        "a credential used twice",
        lambda d: d["provinces"]["500000"]["hospitals"][1].update(paasid="his-h51010000001"),
        "provinces.500000.hospitals[1].paasid",
        "his-h51010000001 is used twice (also by provinces.510000.hospitals[0])",
    ),
]


@pytest.mark.parametrize(("change", "where", "what"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_a_mistake_is_one_error_naming_the_file_the_place_and_what_is_expected(
    tmp_path: Path, raw: dict[str, Any], change: Callable[[dict[str, Any]], object], where: str, what: str
) -> None:
    data = copy.deepcopy(raw)
    change(data)
    file = tmp_path / "world.yaml"
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(WorldError) as refused:
        topology.load(file)
    assert (refused.value.file, refused.value.where) == (str(file), where)
    assert refused.value.what.startswith(what), refused.value.what
    assert str(refused.value).startswith(f"{file}: {where}: ")


def test_not_yaml_is_said_so(tmp_path: Path) -> None:
    file = tmp_path / "world.yaml"
    file.write_text("provinces: [unclosed\n", encoding="utf-8")
    with pytest.raises(WorldError, match="not YAML"):
        topology.load(file)


def test_many_problems_are_counted_not_listed(tmp_path: Path, raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["provinces"] = {"510000": data["provinces"]["510000"]}  # every person insured elsewhere is lost
    file = tmp_path / "world.yaml"
    file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WorldError, match=r"is in no province of the world \(and \d+ more problem\(s\)\)"):
        topology.load(file)


def test_the_embedded_world_and_the_real_policies_pass_the_schema() -> None:
    from yidi.world import schema

    schema.check(yaml.safe_load(topology.default_path().read_text(encoding="utf-8")), "default.yaml")
    for file in sorted((topology.default_path().parent / "policies").glob("*.yaml")):
        policies = yaml.safe_load(file.read_text(encoding="utf-8"))["policies"]
        for insutype, policy in policies.items():
            schema.check(policy, f"{file.name}#{insutype}", part="policy")
