"""``report.html``: the certification document as one self-contained page a ministry can open from disk.

Everything it shows is inline (CSS, SVG charts, no script needed), the text is Chinese with English beside
it, and jinja2 autoescapes every value: reasons and messages come from the system under test.

It is drawn from the document alone: the titles of mutants, transactions and rules are the document's own
(``titles``, written by ``yidi certify``), so a page can be drawn again where neither the run's yidi nor its
spec is at hand; a document without them shows the bare codes.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..suites.document import FLOW_ZH, OUTCOME_ZH, ROLE_ZH, SEVERITY_ZH, contradictions, gating, summary
from . import charts, evidence

TEMPLATES = Path(__file__).parent / "templates"
NOT_PERFORMED = ("skipped", "blocked", "not_applicable")
# what needs reading first
ORDER = {"failed": 0, "error": 1, "blocked": 2, "skipped": 3, "not_applicable": 4, "passed": 5}
# what the template reads, for documents that leave some of it out (older or hand-made ones)
DOC_DEFAULTS: dict[str, Any] = {"format": "", "yidi_version": "", "role": "", "sut": "", "command": ""}
CASE_DEFAULTS: dict[str, Any] = {
    "id": "?",
    "zh": "",
    "en": "",
    "flow": "",
    "severity": "",
    "mandatory": False,
    "person": "",
    "hospital": "",
    "transactions": [],
    "steps": [],
    "reason": None,
}


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # reasons and messages are the SUT's words: never markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(doc: Mapping[str, Any]) -> str:
    """The HTML report of a certification document."""
    return _environment().get_template("report.html.j2").render(**view(doc))


def view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What the template shows, worked out from the document (the template only lays it out)."""
    titles = _titles(doc)
    names = _names(titles)
    cases = sorted(doc.get("cases") or [], key=lambda c: (ORDER.get(str(c.get("outcome")), 9), c.get("id")))
    rows = [_case(c, names) for c in cases]
    signed = evidence.check(doc)
    named = doc.get("system")
    system: Mapping[str, Any] = named if isinstance(named, Mapping) else {}
    counts = summary(doc.get("cases") or []) | (doc.get("summary") or {})
    return {
        "doc": DOC_DEFAULTS | dict(doc),
        "role_zh": ROLE_ZH.get(str(doc.get("role")), str(doc.get("role"))),
        "spec": {"version": "", "profile": None} | (doc.get("spec") or {}),
        "started": _when(doc.get("started")),
        "finished": _when(doc.get("finished")),
        "duration": _seconds(doc.get("duration_s")),
        "mutants": [_mutant(str(m), titles) for m in doc.get("mutants") or []],
        "passed": doc.get("verdict") == "pass",
        "partial": (doc.get("scope") or {}).get("cases") if (doc.get("scope") or {}).get("partial") else None,
        "counts": counts,
        "contradictions": contradictions(doc),
        "run_problems": [str(p) for p in doc.get("problems") or []],
        "why": _why(doc),
        "digest": evidence.digest(doc),
        # checked with the key the document names: whether it is the issuer's, `yidi report verify` tells
        "seal": {"consistent": "consistent", "unsigned": "absent"}.get(signed.state, "edited"),
        "signer": signed.issuer or "",
        "key_id": signed.key_id or "",
        "system": {"product": "", "version": ""} | dict(system),
        "donut": charts.donut(counts),
        "flows": charts.flow_bars(cases),
        "cases": rows,
        "not_passed": [r for r in rows if r["outcome"] in ("failed", "error")],
        "others": [r for r in rows if r["outcome"] not in ("failed", "error")],
        "by_outcome": {o: sum(r["outcome"] == o for r in rows) for o in ORDER},
        "mandatory": sum(bool(r["mandatory"]) for r in rows),
        "outcome_zh": OUTCOME_ZH,
    }


def _why(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Why the verdict is what it is, in a sentence each (Chinese, English)."""
    cases, counts = doc.get("cases") or [], doc.get("summary") or {}
    if doc.get("verdict") == "pass":
        return [("全部必测用例通过。", "Every mandatory case passed.")]
    why = []
    failed = counts.get("mandatory_failed") or sum(gating(c) for c in cases)
    if failed:
        why.append((f"{failed} 个必测用例未通过，不予认证。", f"{failed} mandatory case(s) did not pass."))
    if doc.get("problems"):
        why.append(("测试运行出现问题，部分用例未能执行。", "Some cases could not run."))
    if not cases:
        why.append(("未执行任何用例。", "No case ran."))
    if doc.get("mutants") and any(c.get("outcome") in ("failed", "error") for c in cases):
        why.append(("演示运行：用例发现了变异体引入的错误行为。", "The cases caught the mutants."))
    return why or [("不予认证。", "Not certified.")]


def _case(c: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    outcome = str(c.get("outcome"))
    expected, actual = c.get("expected"), c.get("actual")
    return {
        **CASE_DEFAULTS,
        **c,
        "outcome": outcome,
        "outcome_zh": OUTCOME_ZH.get(outcome, outcome),
        "flow_zh": FLOW_ZH.get(str(c.get("flow")), ""),
        "severity_zh": SEVERITY_ZH.get(str(c.get("severity")), ""),
        "rules": [(r, names.get(r, "")) for r in c.get("rules") or []],
        "gating": gating(c),
        "duration": "—" if outcome in NOT_PERFORMED else _seconds(c.get("duration_s")),
        "failure": _failure(c.get("failure"), names),
        "diff": diff(expected, actual) if expected is not None or actual is not None else [],
        "messages": [_message(m, names, str(c.get("reason") or "")) for m in c.get("messages") or []],
    }


def _failure(failure: Any, names: Mapping[str, str]) -> dict[str, str] | None:
    """A failure's parts as the template shows them (a document from before they were data has none)."""
    if not isinstance(failure, Mapping):
        return None
    rule = str(failure.get("rule") or "")
    return {
        "title": str(failure.get("title") or ""),
        "rule": rule,
        "rule_zh": str(failure.get("rule_zh") or names.get(rule, "")),
        "infno": str(failure.get("infno") or ""),
        "msgid": str(failure.get("msgid") or ""),
        "message": str(failure.get("message") or ""),
    }


def _message(m: Mapping[str, Any], names: Mapping[str, str], reason: str) -> dict[str, Any]:
    response = m.get("response") if isinstance(m.get("response"), Mapping) else {}
    infcode = response.get("infcode") if response else None
    return {
        "infno": str(m.get("infno", "")),
        "name": names.get(str(m.get("infno", "")), ""),
        "msgid": str(m.get("msgid") or ""),
        "named": bool(m.get("msgid")) and str(m.get("msgid")) in reason,  # the message the failure cites
        "ms": round(float(m.get("seconds") or 0) * 1000),
        "infcode": infcode,
        "ok": infcode in (0, "0"),
        "err_msg": (response.get("err_msg") or "") if response else "",
        "explained": explained(response),
        "request": pretty(m.get("request")),
        "headers": pretty(m.get("headers")) if m.get("headers") else None,  # x-tif, as sent
        "response": pretty(m.get("response")) if m.get("response") is not None else "（无应答 no answer）",
    }


def explained(response: Mapping[str, Any] | None) -> list[str]:
    """A settlement answer's steps as the platform wrote them (结算过程信息, setl_proc_info), one a line."""
    output = (response or {}).get("output")
    detail = output.get("setldetail") if isinstance(output, Mapping) else None
    text = next(
        (
            str(d.get("setl_proc_info"))
            for d in detail or []
            if isinstance(d, Mapping) and d.get("setl_proc_info")
        ),
        "",
    )
    return [step for step in text.split("；") if step]


def pretty(value: Any) -> str:
    """JSON as a person reads it: indented, Chinese as Chinese (never \\u escapes)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def diff(expected: Any, actual: Any) -> list[tuple[str, str]]:
    """A whole-text line diff of expected against actual: (' ' | '-' | '+', line), expected as '-'."""
    a, b = pretty(expected).splitlines(), pretty(actual).splitlines()
    lines: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            lines += [(" ", x) for x in a[i1:i2]]
            continue
        lines += [("-", x) for x in a[i1:i2]]
        lines += [("+", x) for x in b[j1:j2]]
    return lines


def _titles(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The document's ``titles`` by kind (mutants, transactions, rules), each {code: {zh, en, …}}; empty
    for a document written before it carried them, or edited into another shape."""
    given = _mapping(doc.get("titles"))
    return {
        kind: {str(k): v for k, v in _mapping(given.get(kind)).items() if isinstance(v, Mapping)}
        for kind in ("mutants", "transactions", "rules")
    }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _names(titles: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The Chinese title of each transaction and rule the document names (the codes do not overlap)."""
    return {
        code: str(title.get("zh") or "")
        for kind in ("transactions", "rules")
        for code, title in (titles.get(kind) or {}).items()
    }


def _mutant(name: str, titles: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    title = (titles.get("mutants") or {}).get(name) or {}  # none: the bare name
    return {key: str(title.get(key) or "") for key in ("zh", "en", "rule")} | {"name": name}


def _when(value: Any) -> str:
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    offset = t.strftime("%z")
    zone = f" (UTC{offset[:3]}:{offset[3:]})" if offset else ""
    return t.strftime("%Y-%m-%d %H:%M:%S") + zone


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    if value < 60:
        return f"{value:.2f} 秒" if value < 10 else f"{value:.1f} 秒"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} 分 {seconds:02d} 秒"
