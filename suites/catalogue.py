"""The joint-test catalogue (联调测试用例目录): cases as data, one YAML file beside each suite module
(``suites/<role>/<flow>.yaml`` next to ``test_<flow>.py``; the format is in suites/README.md).

A case's metadata lives there once; the pytest function that performs it names it by ID
(``@case("JT-ADM-002")``), and reports, Allure labels and re-certification scope are derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..simulators.faults import MUTANTS
from ..specs.diff import Diff
from ..specs.model import Spec

ROLES = ("treatment", "insured", "hub", "his")
FLOWS = (
    "admission", "fees", "settlement", "reliability", "security", "conformance", "queries", "reconciliation",
    "clearing",
)  # fmt: skip
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
    smoke: bool = False  # the smoke set: always re-run on re-certification (yidi certify --since)

    @classmethod
    def from_yaml(cls, case_id: str, raw: Mapping[str, Any]) -> Case:
        values: dict[str, Any] = {
            k: tuple(str(x) for x in v) if isinstance(v, list) else v for k, v in raw.items()
        }
        return cls(id=case_id, **values)


def files() -> list[Path]:
    return sorted(Path(__file__).parent.glob("*/*.yaml"))


@cache
def load() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for file in files():
        for case_id, entry in yaml.safe_load(file.read_text(encoding="utf-8")).items():
            if case_id in cases:
                raise ValueError(f"{file}: case {case_id} is defined twice")
            cases[case_id] = Case.from_yaml(case_id, entry)
    return cases


def select(cases: Mapping[str, Case], patterns: str) -> dict[str, Case]:
    """The cases a ``--cases`` expression names: comma-separated globs over the case ID, its flow, its
    rules and its transactions (``JT-SET-*``, ``security``, ``R-FILE-*``, ``2304``)."""
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    return {
        k: c
        for k, c in cases.items()
        if any(fnmatchcase(x, p) for p in wanted for x in (c.id, c.flow, *c.rules, *c.transactions))
    }


def affected(cases: Mapping[str, Case], change: Diff) -> dict[str, Case]:
    """The cases a spec change touches: one of their transactions, or one of their rules, changed."""
    rules = {c.where for c in change.changes if c.kind.startswith("rule-")}
    return {k: c for k, c in cases.items() if change.affected & set(c.transactions) or rules & set(c.rules)}


def touched(change: Diff) -> dict[str, tuple[str, str]]:
    """What ``yidi spec diff --cases`` lists: each affected case's role and Chinese title, by ID."""
    return {k: (c.role, c.zh) for k, c in sorted(affected(load(), change).items())}


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
