"""A joint test runs on the system under test's world (issue #18): a second world served as the SUT is
certified by URL with that world and passes; the same system certified with a world whose policy differs
fails; a world the system does not know is one error before any case; and a case whose part the world
has nobody for is not applicable, named."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from yidi.cli import app
from yidi.simulators.app import Options
from yidi.simulators.background import Served, serving
from yidi.world import topology

BANDS = [{"up_to": 20000, "ratio": 0.85}, {"ratio": 0.92}]


def default() -> dict[str, Any]:
    return yaml.safe_load(topology.default_path().read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def second() -> dict[str, Any]:
    """Another world of the same shape: other persons (another seed: other names, ID numbers, cards), other
    hospital names, another catalog (乙类 self-pay shares, price caps) and a banded employees' policy."""
    world = default()
    world["name"], world["seed"] = "second", world["seed"] + 1
    for province in world["provinces"].values():
        for i, hospital in enumerate(province["hospitals"]):
            hospital["name"] = f"{province['name']}第{i + 1}联调医院"
        province["catalog"] = {
            code: entry.replace(" 0.10 ", " 0.15 ").replace(" 0.08 ", " 0.12 ")
            for code, entry in province["catalog"].items()
        }
        province["policies"]["310"]["inpatient"]["ratio"]["level"]["3"] = BANDS
    return world


def write(tmp_path: Path, name: str, world: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(world, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def certify(*args: str) -> Result:
    return CliRunner().invoke(app, ["certify", *args], env={"COLUMNS": "200"})


def outcomes(out: Path) -> dict[str, str]:
    doc = json.loads((out / "certification.json").read_text(encoding="utf-8"))
    return {c["id"]: c["outcome"] for c in doc["cases"]}


@pytest.fixture
def second_sut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """A fresh system serving the second world (a certification leaves persons' year used: issue #19)."""
    folder = tmp_path_factory.mktemp("second")
    world = write(folder, "second", second())
    with serving(Options(world=world, db=f"sqlite:///{folder}/sut.db")) as served:
        yield served, world


def test_the_second_world_is_another(second_sut: tuple[Served, Path]) -> None:
    served, path = second_sut
    first, other = topology.load(), topology.load(path)
    assert served.sim.topology.name == "second"
    assert {p.certno for p in first.persons.values()}.isdisjoint(p.certno for p in other.persons.values())
    assert first.provinces["510000"].catalog != other.provinces["510000"].catalog


@pytest.mark.parametrize("role", ["treatment", "insured"])
def test_a_system_serving_another_world_is_certified_with_it(
    second_sut: tuple[Served, Path], role: str, tmp_path: Path
) -> None:
    served, world = second_sut
    result = certify(
        "--role",
        role,
        "--sut",
        served.url,
        "--admin-token",
        served.sim.admin_token,
        "--world",
        str(world),
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    found = outcomes(tmp_path)
    # two employees' effective ratios are not comparable under banded ratios (分段): JT-SET-102 has no rule
    lacking = {k for k, v in found.items() if v == "not_applicable"}
    assert lacking == ({"JT-SET-102"} if role == "insured" else set()), found
    assert found and set(found.values()) <= {"passed", "skipped", "not_applicable"}, found


def test_a_system_whose_policy_differs_from_the_world_fails(
    second_sut: tuple[Served, Path], tmp_path: Path
) -> None:
    served, _ = second_sut
    claimed = second()
    for province in claimed["provinces"].values():  # the world says 90 %, the system pays by its bands
        province["policies"]["310"]["inpatient"]["ratio"]["level"]["3"] = 0.90
    world = write(tmp_path, "claimed", claimed)
    result = certify(
        "--sut",
        served.url,
        "--admin-token",
        served.sim.admin_token,
        "--world",
        str(world),
        "--cases",
        "settlement",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 1, result.output
    failed = {k for k, v in outcomes(tmp_path).items() if v == "failed"}
    assert {"JT-SET-004", "JT-SET-010"} <= failed, outcomes(tmp_path)  # the pooled fund's ratio, by policy


def test_a_world_the_system_does_not_know_is_one_error_before_any_case(
    second_sut: tuple[Served, Path], tmp_path: Path
) -> None:
    served, _ = second_sut
    result = certify(
        "--sut",
        served.url,
        "--admin-token",
        served.sim.admin_token,
        "--world",
        str(topology.default_path()),
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 2, result.output
    assert "世界文件与被测系统不一致" in result.output and "P01" in result.output
    assert set(outcomes(tmp_path).values()) <= {"passed"}  # nothing ran, nothing failed


def test_a_case_whose_part_the_world_lacks_is_not_applicable(tmp_path: Path) -> None:
    world = default()
    lost = {"2", "3"}  # the persons whose card is lost or cancelled: 社保卡挂失、注销
    world["persons"] = [p for p in world["persons"] if (p.get("card") or {}).get("status") not in lost]
    path = write(tmp_path, "no-lost-cards", world)
    result = certify("--world", str(path), "--cases", "JT-ADM-013,JT-ADM-002", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert outcomes(tmp_path / "r") == {"JT-ADM-013": "not_applicable", "JT-ADM-002": "passed"}
    doc = json.loads((tmp_path / "r" / "certification.json").read_text(encoding="utf-8"))
    reason = next(c["reason"] for c in doc["cases"] if c["id"] == "JT-ADM-013")
    assert reason.startswith("不适用") and "社保卡挂失" in reason, reason
    assert doc["summary"]["not_applicable"] == 1 and doc["verdict"] == "pass"


def test_the_embedded_world_casts_every_case_to_itself() -> None:
    from yidi.suites import catalogue
    from yidi.suites.cast import Cast

    world = topology.load()
    cast = Cast(world, copy.copy(world))
    assert all(cast(c.person, c.hospital) == (c.person, c.hospital) for c in catalogue.load().values())


def test_a_case_whose_rule_the_world_s_policy_lacks_is_not_applicable(tmp_path: Path) -> None:
    """A deductible paid every stay (按次) leaves R-BEN-01 (once a year) nothing to hold a system to: its
    cases are not applicable, named, in both roles, not failed; the money follower still checks every stay."""
    world = default()
    for province in world["provinces"].values():
        for policy in province["policies"].values():
            policy["inpatient"]["deductible"] |= {"per": "stay", "later_stays": [0.5]}
    path = write(tmp_path, "per-stay", world)
    for role, yearly, other in (
        ("treatment", "JT-SET-003", "JT-SET-004"),
        ("insured", "JT-SET-101", "JT-SET-104"),
    ):
        out = tmp_path / role
        result = certify(
            "--role", role, "--world", str(path), "--cases", f"{yearly},{other}", "--out", str(out)
        )
        assert result.exit_code == 0, result.output
        assert outcomes(out) == {yearly: "not_applicable", other: "passed"}
        doc = json.loads((out / "certification.json").read_text(encoding="utf-8"))
        reason = next(c["reason"] for c in doc["cases"] if c["id"] == yearly)
        assert reason.startswith("不适用") and "起付线按次计" in reason, reason
