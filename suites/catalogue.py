"""The joint-test catalogue (联调测试用例目录): cases as data, read from ``data/catalogue.yaml``.

A case's metadata lives here once; the pytest function that performs it names it by ID
(``@case("JT-ADM-002")``), and reports, Allure labels and re-certification scope are derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from yidi.simulators.faults import MUTANTS
from yidi.specs.model import Spec

ROLES = ("treatment", "insured", "hub", "his")
FLOWS = ("admission", "fees", "settlement", "reliability", "security", "conformance", "queries")
SEVERITIES = ("blocker", "critical", "normal", "minor")


@dataclass(frozen=True)
class Case:
    id: str
    zh: str
    en: str
    role: str
    flow: str
    rules: tuple[str, ...]
    transactions: tuple[str, ...]
    severity: str
    mandatory: bool
    person: str
    hospital: str
    steps: tuple[str, ...]
    catches: tuple[str, ...]

    @classmethod
    def from_yaml(cls, case_id: str, raw: Mapping[str, Any]) -> Case:
        values: dict[str, Any] = {
            k: tuple(str(x) for x in v) if isinstance(v, list) else v for k, v in raw.items()
        }
        return cls(id=case_id, **values)


def path() -> Path:
    return Path(__file__).parent / "data" / "catalogue.yaml"


@cache
def load(file: Path | None = None) -> dict[str, Case]:
    raw = yaml.safe_load((file or path()).read_text(encoding="utf-8"))
    return {case_id: Case.from_yaml(case_id, entry) for case_id, entry in raw.items()}


def lint(cases: Mapping[str, Case], spec: Spec, persons: set[str], hospitals: set[str]) -> list[str]:
    """What is wrong with the catalogue, one line each: every reference must resolve."""
    problems = []
    for c in cases.values():
        where = f"{c.id}:"
        problems += [f"{where} role {c.role!r} is not one of {ROLES}"] if c.role not in ROLES else []
        problems += [f"{where} flow {c.flow!r} is not one of {FLOWS}"] if c.flow not in FLOWS else []
        problems += [f"{where} severity {c.severity!r}"] if c.severity not in SEVERITIES else []
        problems += [f"{where} no rule {r}" for r in c.rules if r not in spec.rules]
        problems += [f"{where} no transaction {t}" for t in c.transactions if t not in spec.transactions]
        problems += [f"{where} no mutant {m}" for m in c.catches if m not in MUTANTS]
        problems += [f"{where} no person {c.person} in the roster"] if c.person not in persons else []
        problems += [f"{where} no hospital {c.hospital} in the roster"] if c.hospital not in hospitals else []
    return problems
