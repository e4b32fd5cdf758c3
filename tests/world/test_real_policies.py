"""Real provinces' and cities' policies (world/data/policies/, with their sources) against the worked examples
their issuers or the press published (tests/world/examples/): the benefit engine, run stay by stay on the
transcribed policy, gives every amount the example states, to the cent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from yidi.simulators.benefits import Claim, Usage, settle, usage_before
from yidi.simulators.catalog import Split
from yidi.simulators.insured.settlement import counting_day
from yidi.specs.money import yuan
from yidi.world import schema, topology
from yidi.world.policy import Patient, Policy, parse, problems

POLICIES = topology.default_path().parent / "policies"
EXAMPLES = Path(__file__).with_name("examples")
ANSWER = {
    "deductible": "act_pay_dedc",
    "pool": "hifp_pay",
    "fund_pay_sumamt": "fund_pay_sumamt",
    "personal": "psn_part_amt",
}


def policy(ref: str) -> Policy:
    file, _, insutype = ref.partition("#")
    raw = yaml.safe_load((POLICIES / file).read_text(encoding="utf-8"))["policies"][insutype]
    schema.check(raw, ref, part="policy")
    return parse(insutype, raw)


def cases() -> list[Any]:
    found = []
    for file in sorted(EXAMPLES.glob("*.yaml")):
        for case in yaml.safe_load(file.read_text(encoding="utf-8")) or []:
            found.append(pytest.param(case, id=f"{file.stem}: {case['name']}"))
    return found


@pytest.mark.parametrize("case", cases())
def test_a_published_calculation_is_reproduced_to_the_cent(case: dict[str, Any]) -> None:
    p = policy(case["policy"])
    who = case["person"]
    used: Usage | None = None
    for stay, expected in zip(case["stays"], case["expected"], strict=True):
        settled = datetime.combine(_day(stay["settled"]), datetime.min.time())
        day = counting_day(p.year, str(_day(stay["admitted"])), settled)
        terms = p.on(day)
        if used is None:
            used = usage_before(case.get("ytd") or {}, terms)
        patient = Patient(
            str(who["psn_type"]), int(who["age"]), frozenset(who.get("idet") or ()), who.get("years")
        )
        medfee, inscp = yuan(stay["medfee"]), yuan(stay["inscp"])
        overlmt, preselfpay = yuan(stay.get("overlmt")), yuan(stay.get("preselfpay"))
        split = Split(medfee - inscp - overlmt - preselfpay, overlmt, preselfpay, inscp)
        claim = Claim(
            medfee,
            split,
            str(case["hospital_level"]),
            stay.get("setting", "inpatient"),
            False,
            stay.get("fil_type"),
        )
        r = settle(terms, claim, patient, used, Decimal(0))
        got = {k: getattr(r, field) for k, field in ANSWER.items()} | dict(r.funds)
        stated = {str(k): yuan(v) for k, v in expected.items()}
        assert {k: got.get(k, Decimal(0)) for k in stated} == stated, [s.text for s in r.steps]
        used = used + r.usage


def test_every_transcribed_policy_holds_together_and_names_its_source() -> None:
    files = sorted(POLICIES.glob("*.yaml"))
    assert len(files) >= 3
    for file in files:
        for insutype in yaml.safe_load(file.read_text(encoding="utf-8"))["policies"]:
            p = policy(f"{file.name}#{insutype}")
            assert p.source.get("issuer") and p.source.get("document") and p.title, file.name
            assert problems(p, date(2026, 11, 23)) == [], file.name


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
