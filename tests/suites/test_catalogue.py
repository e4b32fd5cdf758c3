"""The catalogue and its suites: every reference resolves, every case is performed by exactly one test,
every case passes on the reference simulators and fails on each mutant it declares it catches."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from yidi.simulators.faults import MUTANTS
from yidi.specs import loader
from yidi.suites import catalogue
from yidi.suites.certify import Listener, Request, run
from yidi.world import topology

CASES = catalogue.load()


def run_suites(
    tmp_path: Path,
    role: str,
    *,
    cases: str | None = None,
    mutant: str | None = None,
    profile: str | None = None,
) -> dict[str, str]:
    """Each case's outcome, run as `yidi certify` runs it (in this process: imports are paid once)."""
    listener = Listener(lambda total: None, lambda outcome: None)
    request = Request(role, cases=cases, mutants=[mutant] if mutant else [], profile=profile, out=tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        run(request, listener)
    assert listener.problems == []
    return {case: o.outcome for case, o in listener.outcomes.items()}


def _roster() -> tuple[set[str], set[str]]:
    t = topology.load()
    return {p.key for p in t.persons.values()}, {h for p in t.provinces.values() for h in p.hospitals}


def test_every_reference_in_the_catalogue_resolves() -> None:
    assert catalogue.lint(CASES, loader.load(), *_roster()) == []


def test_the_linter_names_what_does_not_resolve() -> None:
    broken = {
        "JT-X": CASES["JT-ADM-002"].__class__(
            **{**vars(CASES["JT-ADM-002"]), "id": "JT-X", "rules": ("R-NOPE",), "catches": ("no-such",)}
        )
    }
    problems = catalogue.lint(broken, loader.load(), _roster()[0], set())
    assert problems == [
        "JT-X: no rule R-NOPE",
        "JT-X: no mutant no-such",
        "JT-X: no hospital H50000000001 in the roster",
    ]


ROLES = sorted({c.role for c in CASES.values()})


@pytest.mark.parametrize("role", ROLES)
def test_every_case_passes_on_the_reference_simulators(tmp_path: Path, role: str) -> None:
    expected = dict.fromkeys((c.id for c in CASES.values() if c.role == role), "passed")
    assert run_suites(tmp_path, role) == expected


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_each_mutant_is_caught_by_the_cases_that_declare_it(tmp_path: Path, mutant: str) -> None:
    # Only the declaring cases run: the reference run above shows the rest pass, and a mutant run of the
    # whole catalogue per mutant would cost minutes.
    declared = {c.id: c.role for c in CASES.values() if mutant in c.catches}
    assert declared, f"no case declares it catches {mutant}"
    outcomes = {}
    for role in sorted(set(declared.values())):
        outcomes |= run_suites(tmp_path, role, mutant=mutant, cases=",".join(sorted(declared)))
    assert outcomes == dict.fromkeys(declared, "failed")


@pytest.mark.parametrize("profile", sorted(p.stem for p in (loader.data_dir() / "profiles").glob("*.yaml")))
def test_the_treatment_cases_pass_under_every_regional_profile(tmp_path: Path, profile: str) -> None:
    """Regional drift (Guangzhou's node names and flattened inputs, Zhuhai's fund total counting the personal
    account, …) is absorbed by the simulators and the suites alike: the flows whose messages it reshapes."""
    outcomes = run_suites(
        tmp_path, "treatment", cases="conformance,settlement,queries,reliability", profile=profile
    )
    assert outcomes and {k: v for k, v in outcomes.items() if v != "passed"} == {}
