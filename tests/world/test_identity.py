"""Test persons' identities (world/identity.py): valid GB 11643 ID numbers, deterministic per seed, and the
identity a topology file gives winning over the generated one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from yidi.world import identity, topology


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(topology.default_path().read_text(encoding="utf-8"))


def dump(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_check_digit_gb11643_example() -> None:
    assert identity.check_digit("11010519491231002") == "X"
    assert identity.valid_certno("11010519491231002X")
    assert identity.valid_certno("11010519491231002x")
    assert not identity.valid_certno("110105194912310021")
    assert not identity.valid_certno("110105194902300021")  # 30 February
    assert not identity.valid_certno("11010519491231002")


def test_identities_are_deterministic(tmp_path: Path, raw: dict[str, Any]) -> None:
    first, second = topology.load(), topology.load()
    assert first.persons == second.persons
    made = identity.make("P01", "510100", 7)
    assert made == identity.make("P01", "510100", 7)
    assert identity.valid_certno(made.certno)
    # another seed gives other identities
    other = copy.deepcopy(raw)
    other["seed"] = int(raw["seed"]) + 1
    reseeded = topology.load(dump(tmp_path, other))
    assert {p.certno for p in reseeded.persons.values()}.isdisjoint(
        {p.certno for p in first.persons.values()}
    )


def test_identity_given_in_yaml_wins(tmp_path: Path, raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["persons"][0].update(name="张三", certno="11010519491231002X", psn_no="11000020000000000001")
    p = topology.load(dump(tmp_path, data)).person("P01")
    assert p is not None and (p.name, p.certno, p.psn_no) == (
        "张三",
        "11010519491231002X",
        "11000020000000000001",
    )
