"""The certification document (``yidi-certification/1``): its verdict rule, its counts, and the words a
report uses for its codes (roles, flows, severities, outcomes), in Chinese with the English beside.

``yidi certify`` builds the document; everything here only reads it, so a report can be rendered again
from ``certification.json`` alone. The document describes itself: its ``titles`` name each mutant of the
run (rule, zh, en), each transaction its cases name or exchanged (zh, en) and each rule they cite or broke
(zh, en); each case's ``failure`` holds the parts of its reason (kind, title, rule, rule_zh, infno, msgid,
message). Both are optional: a document written before them still reads, with bare codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FORMAT = "yidi-certification/1"
# not_applicable: the world under test has nobody to play the case's part (named in its reason); it
# neither passes nor fails, and does not gate. blocked: an earlier case left the case's person in a state
# it could not undo (named in the reason); the case was not performed, which gates like a skip.
OUTCOMES = ("passed", "failed", "error", "skipped", "blocked", "not_applicable")
# A mandatory case that did not pass (failed, errored, or not performed here) fails the certification.
GATING = ("failed", "error", "skipped", "blocked")

OUTCOME_ZH = {
    "passed": "通过",
    "failed": "失败",
    "error": "错误",
    "skipped": "跳过",
    "blocked": "受阻",
    "not_applicable": "不适用",
}
ROLE_ZH = {"treatment": "就医地平台", "insured": "参保地平台", "hub": "国家平台", "his": "医院HIS"}
FLOW_ZH = {
    "admission": "入院",
    "fees": "费用",
    "settlement": "结算",
    "reliability": "可靠性",
    "security": "安全",
    "conformance": "报文规范",
    "queries": "查询",
    "reconciliation": "对账",
    "clearing": "清算",
}
SEVERITY_ZH = {"blocker": "阻断", "critical": "严重", "normal": "一般", "minor": "轻微"}


def gating(case: Mapping[str, Any]) -> bool:
    """Whether this case alone makes the certification fail."""
    return bool(case.get("mandatory")) and case.get("outcome") in GATING


def verdict(cases: Iterable[Mapping[str, Any]]) -> str:
    """``fail`` iff a mandatory case did not pass; optional cases never gate."""
    return "fail" if any(gating(c) for c in cases) else "pass"


def summary(cases: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The counts the document's ``summary`` carries."""
    listed = list(cases)
    counts = {"total": len(listed)} | {o: sum(c.get("outcome") == o for c in listed) for o in OUTCOMES}
    return counts | {"mandatory_failed": sum(gating(c) for c in listed)}


def contradictions(doc: Mapping[str, Any]) -> list[str]:
    """Where the document contradicts itself: a PASS over a failed mandatory case, counts that do not
    count its cases. A producer may be stricter than ``verdict`` (a FAIL for an empty run, a run that
    could not collect its cases, a demonstration whose mutant was caught): that is no contradiction."""
    found = []
    if doc.get("format") != FORMAT:
        found.append(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
    cases = doc.get("cases") or []
    bad = sorted({str(c.get("outcome")) for c in cases} - set(OUTCOMES))
    if bad:
        found.append(f"unknown case outcomes: {', '.join(bad)}")
    if doc.get("verdict") not in ("pass", "fail"):
        found.append(f"verdict is {doc.get('verdict')!r}, not pass or fail")
    elif doc.get("verdict") == "pass" and verdict(cases) == "fail":
        gates = ", ".join(str(c.get("id")) for c in cases if gating(c))
        found.append(f"verdict is pass but mandatory cases failed: {gates}")
    given, counted = doc.get("summary") or {}, summary(cases)
    # an outcome a document's producer did not know yet (not_applicable) counts as none of its cases
    wrong = {
        k: (given.get(k), counted[k])
        for k in ("total", *OUTCOMES)
        if given.get(k, None if k == "total" else 0) != counted[k]
    }
    if wrong:  # mandatory_failed and keys of its own are the producer's definition
        listed = ", ".join(f"{k} {a} ≠ {b}" for k, (a, b) in wrong.items())
        found.append(f"summary does not count its cases: {listed}")
    return found
