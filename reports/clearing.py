"""The clearing report (清算报告): a month's clearing document as ``clearing.json`` and one self-contained
``clearing.html``, for the people who pay.

Cross-province settlement is paid first and cleared later (先预付后清算): each insured province's fund at a
treatment province pays the month's settlements, and at month end a statement per pair says who owes whom.
The page puts the answer first (does the month balance, what is left to confirm), then the matrix of who
owes whom, how each fund's balance moved, and every alert and inconsistency, so a finance officer can
check the month without a database. ``yidi clear --month YYYYMM`` builds the document; this only reads it.

    json_path, html_path = yidi.reports.clearing.write(document, out_dir)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import charts
from .charts import yuan_text

TEMPLATES = Path(__file__).parent / "templates"
JSON_NAME, HTML_NAME = "clearing.json", "clearing.html"

# verdict → (Chinese, English, badge class)
VERDICT = {
    "balanced": ("平账", "BALANCED", "pass"),
    "pending": ("待确认", "PENDING", "pending"),
    "unbalanced": ("不平", "UNBALANCED", "fail"),
}
LEVEL_ZH = {"": "正常", "warn": "预警", "urgent": "紧急", "exhausted": "已用尽"}
STATE_ZH = {"issued": "已出单", "confirmed": "已确认拨付"}
HEAT_FROM, HEAT_TO = (255, 255, 255), (127, 169, 214)  # white to a mid blue: dark text stays readable


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # reasons come from the platforms under test: never markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(doc: Mapping[str, Any]) -> str:
    """The HTML clearing report of a clearing document."""
    return _environment().get_template("clearing.html.j2").render(**view(doc))


def write(doc: Mapping[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``clearing.json`` (the document as given) and ``clearing.html`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / JSON_NAME, out / HTML_NAME
    json_path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render(doc), encoding="utf-8")
    return json_path, html_path


def view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What the template shows, worked out from the document (the template only lays it out)."""
    names = _names(doc)
    statements = list(doc.get("statements") or [])
    funds = list(doc.get("funds") or [])
    month = str(doc.get("month") or "")
    verdict = str(doc.get("verdict") or "")
    zh, en, badge = VERDICT.get(verdict, ("未知", "UNKNOWN", "fail"))
    return {
        "month": month,
        "month_zh": f"{month[:4]}年{int(month[4:])}月" if _is_month(month) else month,
        "generated": str(doc.get("generated") or ""),
        "verdict": {"code": verdict, "zh": zh, "en": en, "badge": badge},
        "why": _why(doc),
        "contradictions": contradictions(doc),
        "totals": _totals(statements, funds, doc),
        "matrix": matrix(statements, funds, names),
        "charts": _charts(doc, names),
        "funds": [_fund(f, names) for f in funds],
        "alerts": [_alert(a, names) for a in doc.get("alerts") or []],
        "problems": [str(p) for p in doc.get("problems") or []],
    }


# ── the verdict ──────────────────────────────────────────────────────


def _pending(statements: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for s in statements if s.get("state") != "confirmed"]


def _why(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Why the verdict is what it is, in a sentence each (Chinese, English)."""
    statements, problems = list(doc.get("statements") or []), list(doc.get("problems") or [])
    why = []
    if problems:
        why.append((f"{len(problems)} 项不平，见「不平项」。", f"{len(problems)} invariant(s) violated."))
    waiting = _pending(statements)
    if waiting:
        owed = yuan_text(_sum(s.get("amount") for s in waiting))
        why.append(
            (
                f"{len(waiting)} 张清算单待参保地确认，金额 {owed}。",
                f"{len(waiting)} statement(s) not confirmed.",
            )
        )
    if not statements:
        why.append(("本月无清算单。", "No statement this month."))
    if not why:
        why.append(
            ("全部清算单已确认拨付，账目平衡。", "Every statement confirmed and paid; the books balance.")
        )
    return why


def contradictions(doc: Mapping[str, Any]) -> list[str]:
    """Where the document's verdict disagrees with its own statements and problems."""
    verdict, problems = doc.get("verdict"), doc.get("problems") or []
    waiting = len(_pending(doc.get("statements") or []))
    if verdict not in VERDICT:
        return [f"verdict is {verdict!r}, not balanced, pending or unbalanced"]
    if problems and verdict != "unbalanced":
        return [f"verdict is {verdict} but {len(problems)} problem(s) are listed"]
    if not problems and verdict == "unbalanced":
        return ["verdict is unbalanced but no problem is listed"]
    if waiting and verdict == "balanced":
        return [f"verdict is balanced but {waiting} statement(s) are not confirmed"]
    if not waiting and verdict == "pending":
        return ["verdict is pending but every statement is confirmed"]
    return []


def _totals(
    statements: Sequence[Mapping[str, Any]], funds: Sequence[Mapping[str, Any]], doc: Mapping[str, Any]
) -> dict[str, Any]:
    waiting = _pending(statements)
    return {
        "amount": yuan_text(_sum(s.get("amount") for s in statements)),
        "settlements": sum(int(s.get("settlements") or 0) for s in statements),
        "statements": len(statements),
        "pending": len(waiting),
        "pending_amount": yuan_text(_sum(s.get("amount") for s in waiting)),
        "alerting": sum(bool(f.get("alert")) for f in funds),
        "problems": len(doc.get("problems") or []),
    }


# ── who owes whom ────────────────────────────────────────────────────


def matrix(
    statements: Sequence[Mapping[str, Any]], funds: Sequence[Mapping[str, Any]], names: Mapping[str, str]
) -> dict[str, Any]:
    """The clearing matrix: a row per insured province (payer), a column per treatment province (payee),
    over every province a statement or fund names; row totals are payable, column totals receivable."""
    codes = _codes(statements, funds, names)
    cells = _cells(statements)
    top = max((c["amount"] for c in cells.values()), default=0.0)
    rows = [
        {
            "code": payer,
            "name": names.get(payer, payer),
            "cells": [_cell(payer, payee, cells.get((payer, payee)), top, names) for payee in codes],
            "total": yuan_text(_sum(c["amount"] for (p, _), c in cells.items() if p == payer)),
        }
        for payer in codes
    ]
    return {
        "columns": [{"code": c, "name": names.get(c, c)} for c in codes],
        "rows": rows,
        "column_totals": [
            yuan_text(_sum(c["amount"] for (_, p), c in cells.items() if p == payee)) for payee in codes
        ],
        "total": yuan_text(_sum(c["amount"] for c in cells.values())),
    }


def _codes(
    statements: Sequence[Mapping[str, Any]], funds: Sequence[Mapping[str, Any]], names: Mapping[str, str]
) -> list[str]:
    """The provinces the matrix shows: in the document's order, then any it does not name."""
    used = {str(x.get(side)) for x in [*statements, *funds] for side in ("insured", "treatment")}
    return [c for c in names if c in used] + sorted(used - set(names))


def _cells(statements: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Statements per (payer, payee); two for one pair add up, and the pair waits if either does."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for s in statements:
        cell = cells.setdefault(
            (str(s.get("insured")), str(s.get("treatment"))),
            {"amount": 0.0, "settlements": 0, "pending": False},
        )
        cell["amount"] = round(cell["amount"] + float(s.get("amount") or 0), 2)
        cell["settlements"] += int(s.get("settlements") or 0)
        cell["pending"] |= s.get("state") != "confirmed"
    return cells


def _cell(
    payer: str, payee: str, found: Mapping[str, Any] | None, top: float, names: Mapping[str, str]
) -> dict[str, Any]:
    pair = f"{names.get(payer, payer)}→{names.get(payee, payee)}"
    if payer == payee:
        return {"kind": "diagonal", "title": ""}
    if found is None:
        return {"kind": "empty", "title": f"{pair}：无清算单 no statement"}
    state = "待确认 pending" if found["pending"] else "已确认 confirmed"
    return {
        "kind": "pending" if found["pending"] else "confirmed",
        "amount": yuan_text(found["amount"]),
        "settlements": found["settlements"],
        "heat": heat(found["amount"] / top if top > 0 else 0.0),
        "title": f"{pair}：{yuan_text(found['amount'])}，{found['settlements']} 笔，{state}",
    }


def heat(share: float) -> str:
    """The background of a matrix cell holding ``share`` of the largest amount (0 white … 1 mid blue)."""
    t = min(max(share, 0.0), 1.0)
    r, g, b = (round(a + (z - a) * t) for a, z in zip(HEAT_FROM, HEAT_TO, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


# ── the funds ────────────────────────────────────────────────────────


def _charts(doc: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Small multiples: one balance chart per insured province, a line per fund it keeps, over the
    month (up to when the document was made, for a month not yet over)."""
    funds = list(doc.get("funds") or [])
    moves: dict[tuple[str, str], list[tuple[str, float]]] = {_ends(f): [] for f in funds}
    for m in doc.get("moves") or []:
        moves.setdefault(_ends(m), []).append((str(m.get("at")), float(m.get("balance") or 0)))
    sizes = {_pair(*_ends(f), names): float(f.get("size") or 0) for f in funds}
    start, end = _month_span(str(doc.get("month") or ""), str(doc.get("generated") or ""))
    drawn = []
    for payer in dict.fromkeys(i for i, _ in moves):
        series = {_pair(i, t, names): points for (i, t), points in moves.items() if i == payer}
        name = names.get(payer, payer)
        svg = charts.balance_lines(series, sizes, start=start, end=end, label=f"{name} 预付金余额走势")
        drawn.append({"code": payer, "name": name, "svg": svg})
    return drawn


def _month_span(month: str, generated: str) -> tuple[str | None, str | None]:
    """The month as the chart's x axis, cut at the document's time when the month is not over."""
    if not _is_month(month):
        return None, None
    year, mon = int(month[:4]), int(month[4:])
    start = datetime(year, mon, 1)
    end = datetime(year + mon // 12, mon % 12 + 1, 1)
    with suppress(ValueError):  # no time of making: the whole month
        end = min(end, datetime.fromisoformat(generated))
    return str(start), str(end)


def _fund(f: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    size, balance = float(f.get("size") or 0), float(f.get("balance") or 0)
    used = (size - balance) / size * 100 if size else 100.0
    level = str(f.get("alert") or "")
    insured, treatment = _ends(f)
    return {
        "insured": names.get(insured, insured),
        "treatment": names.get(treatment, treatment),
        "size": yuan_text(size),
        "balance": yuan_text(balance),
        "used": f"{used:.1f}%",
        "bar": round(min(max(used, 0.0), 100.0), 1),
        "level": level or "ok",
        "level_zh": LEVEL_ZH.get(level, level),
    }


def _alert(a: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    level = str(a.get("level") or "")
    return {
        "at": str(a.get("at") or ""),
        "pair": _pair(*_ends(a), names),
        "level": level or "ok",
        "level_zh": LEVEL_ZH.get(level, level),
        "balance": yuan_text(float(a.get("balance") or 0)),
        "size": yuan_text(float(a.get("size") or 0)),
        "reason": str(a.get("reason") or ""),
    }


# ── small things ─────────────────────────────────────────────────────


def _names(doc: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (doc.get("provinces") or {}).items()}


def _ends(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row.get("insured")), str(row.get("treatment"))


def _pair(insured: str, treatment: str, names: Mapping[str, str]) -> str:
    return f"{names.get(insured, insured)}→{names.get(treatment, treatment)}"


def _sum(amounts: Iterable[Any]) -> float:
    """Yuan added up to the fen (floats of two decimals drift in their last places)."""
    return sum(round(float(a or 0) * 100) for a in amounts) / 100


def _is_month(month: str) -> bool:
    try:
        date(int(month[:4]), int(month[4:]), 1)
    except ValueError:
        return False
    return len(month) == 6
