"""Every settlement a case makes is checked to the cent against the independent oracle (suites/follow.py,
R-BEN-07): a case written for something else (5203 repeats 2304, an outpatient batch settles again the
same) fails on a platform whose money is consistently wrong, and on one that is wrong only after a
cancellation; on the reference it passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_worlds import certify


def cases(out: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((out / "certification.json").read_text(encoding="utf-8"))
    return {c["id"]: c for c in doc["cases"]}


@pytest.mark.parametrize(
    ("case", "mutant"),
    [
        ("JT-QRY-001", "ignore-deductible"),  # consistently wrong: 2303, 2304 and 5203 agree
        ("JT-QRY-002", "no-ytd-rollback"),  # right until a cancellation: the re-settlement is wrong
        ("JT-REL-007", "ignore-deductible"),  # an outpatient visit (2206 / 2207): a batch settled twice
    ],
)
def test_a_case_fails_on_money_the_oracle_does_not_expect(tmp_path: Path, case: str, mutant: str) -> None:
    result = certify("--cases", case, "--mutant", mutant, "--out", str(tmp_path))
    found = cases(tmp_path)[case]
    assert result.exit_code == 1 and found["outcome"] == "failed", result.output
    assert found["failure"]["rule"] == "R-BEN-07", found  # type: ignore[index]
    assert any(k in found["expected"] for k in ("hifp_pay", "act_pay_dedc")), found  # type: ignore[operator]


def test_on_the_reference_the_same_cases_pass(tmp_path: Path) -> None:
    result = certify("--cases", "JT-QRY-001,JT-QRY-002,JT-REL-007", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert {c["outcome"] for c in cases(tmp_path).values()} == {"passed"}
