"""The clearing report (清算报告) of a small planted month: three provinces, four statements (one not yet
confirmed), three funds, their moves and two alerts. Every figure asserted here is worked out by hand."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from yidi.reports import charts
from yidi.reports.clearing import contradictions, heat, matrix, render, write

SC, CQ, GZ = "510000", "500000", "520000"
PLANTED: dict[str, Any] = {
    "month": "202611",
    "generated": "2026-12-01 00:00:05",
    "provinces": {SC: "四川省", CQ: "重庆市", GZ: "贵州省"},
    "statements": [
        {"insured": SC, "treatment": CQ, "settlements": 12, "amount": 123456.78, "state": "confirmed"},
        {"insured": SC, "treatment": GZ, "settlements": 3, "amount": 4500.00, "state": "issued"},
        {"insured": CQ, "treatment": SC, "settlements": 7, "amount": 98765.43, "state": "confirmed"},
        {"insured": GZ, "treatment": SC, "settlements": 1, "amount": 1000.01, "state": "confirmed"},
    ],
    "funds": [
        {"insured": SC, "treatment": CQ, "size": 2732000.0, "balance": 800000.0, "alert": "warn"},
        {"insured": SC, "treatment": GZ, "size": 1000000.0, "balance": 995500.0, "alert": ""},
        {"insured": CQ, "treatment": SC, "size": 500000.0, "balance": 0.0, "alert": "exhausted"},
    ],
    "moves": [
        {"insured": SC, "treatment": CQ, "at": "2026-11-02 09:00:00", "kind": "settle", "amount": -1932000.0,
         "balance": 800000.0, "ref": "SETL1", "actor": "hub", "reason": "异地就医结算"},
        {"insured": SC, "treatment": GZ, "at": "2026-11-03 10:00:00", "kind": "settle", "amount": -4500.0,
         "balance": 995500.0, "ref": "SETL2", "actor": "hub", "reason": "异地就医结算"},
        {"insured": CQ, "treatment": SC, "at": "2026-11-05 11:00:00", "kind": "settle", "amount": -300000.0,
         "balance": 200000.0, "ref": "SETL3", "actor": "hub", "reason": "异地就医结算"},
        {"insured": CQ, "treatment": SC, "at": "2026-11-20 16:30:00", "kind": "settle", "amount": -200000.0,
         "balance": 0.0, "ref": "SETL4", "actor": "hub", "reason": "异地就医结算"},
    ],
    "alerts": [
        {"insured": SC, "treatment": CQ, "at": "2026-11-02 09:00:00", "level": "warn", "balance": 800000.0,
         "size": 2732000.0, "reason": "预付金使用已达预警线，请补足"},
        {"insured": CQ, "treatment": SC, "at": "2026-11-20 16:30:00", "level": "exhausted", "balance": 0.0,
         "size": 500000.0, "reason": "预付金已用尽"},
    ],
    "problems": [],
    "verdict": "pending",
}  # fmt: skip


@pytest.fixture
def doc() -> dict[str, Any]:
    return copy.deepcopy(PLANTED)


def cells(html: str, tag: str, attr: str) -> dict[str, str]:
    """``{attribute value: text}`` of the elements carrying ``attr`` (the matrix's totals)."""
    found = re.findall(rf'<{tag}[^>]*{attr}="([^"]+)"[^>]*>([^<]*)<', html)
    return dict(found)


def matrix_row(html: str, payer: str) -> list[str]:
    """The cells of a payer's row of the matrix, as text without tags."""
    row = re.search(rf'<tr data-payer="{payer}">(.*?)</tr>', html, re.S)
    assert row, payer
    tds = re.findall(r"<td([^>]*)>(.*?)</td>", row.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", body).split()) for _, body in tds]


# ── the page ─────────────────────────────────────────────────────────


def test_the_written_page_shows_the_matrix_amounts_and_totals(doc: dict[str, Any], tmp_path: Path) -> None:
    json_path, html_path = write(doc, tmp_path / "deep" / "out")
    assert (json_path.name, html_path.name) == ("clearing.json", "clearing.html")
    html = html_path.read_text(encoding="utf-8")
    # columns in the document's order: 四川 重庆 贵州, then the payable total
    assert matrix_row(html, SC) == ["—", "¥123,456.78 12 笔", "¥4,500.00 待确认 3 笔", "¥127,956.78"]
    assert matrix_row(html, CQ) == ["¥98,765.43 7 笔", "—", "·", "¥98,765.43"]
    assert matrix_row(html, GZ) == ["¥1,000.01 1 笔", "·", "—", "¥1,000.01"]
    assert cells(html, "td", "data-payable") == {SC: "¥127,956.78", CQ: "¥98,765.43", GZ: "¥1,000.01"}
    assert cells(html, "td", "data-receivable") == {SC: "¥99,765.44", CQ: "¥123,456.78", GZ: "¥4,500.00"}
    assert cells(html, "td", "data-total") == {"grand": "¥227,722.22"}
    assert cells(html, "b", "data-total") == {
        "amount": "¥227,722.22",
        "settlements": "23",
        "statements": "4",
        "pending": "1",
        "problems": "0",
    }
    assert "清算矩阵" in html and "应付合计" in html and "应收合计" in html


def test_only_the_unconfirmed_cell_is_marked(doc: dict[str, Any]) -> None:
    html = render(doc)
    marked = re.findall(r'<td class="cell pending"[^>]*title="([^"]*)"', html)
    assert marked == ["四川省→贵州省：¥4,500.00，3 笔，待确认 pending"]
    assert html.count('<span class="tag pending">待确认</span>') == 1
    assert len(re.findall(r'<td class="cell confirmed"', html)) == 3
    doc["statements"][1]["state"] = "confirmed"
    assert '<td class="cell pending"' not in render(doc)


def test_cells_are_shaded_by_amount() -> None:
    assert heat(0) == "#ffffff" and heat(1) == "#7fa9d6" and heat(7) == heat(1)
    shaded = matrix(PLANTED["statements"], PLANTED["funds"], PLANTED["provinces"])
    by_amount = {c["amount"]: c["heat"] for r in shaded["rows"] for c in r["cells"] if "heat" in c}
    assert by_amount["¥123,456.78"] == "#7fa9d6"  # the largest is the darkest
    assert by_amount["¥1,000.01"] != by_amount["¥98,765.43"] != by_amount["¥123,456.78"]


def test_funds_and_alerts_are_listed_in_chinese(doc: dict[str, Any]) -> None:
    html = render(doc)
    funds = re.search(r'<table id="funds">(.*?)</table>', html, re.S)
    assert funds
    rows = re.findall(r'<tr class="fund" data-level="(\w+)">(.*?)</tr>', funds.group(1), re.S)
    assert [level for level, _ in rows] == ["warn", "ok", "exhausted"]
    first = re.sub(r"<[^>]+>", "|", rows[0][1])
    assert "四川省" in first and "重庆市" in first and "¥2,732,000.00" in first and "¥800,000.00" in first
    assert "70.7%" in first and "预警" in first
    assert "100.0%" in rows[2][1] and "已用尽" in rows[2][1]
    alerts = re.findall(r'<tr class="alert" data-level="(\w+)">(.*?)</tr>', html, re.S)
    assert [level for level, _ in alerts] == ["warn", "exhausted"]
    assert "2026-11-02 09:00:00" in alerts[0][1] and "四川省→重庆市" in alerts[0][1]
    assert "预付金使用已达预警线，请补足" in alerts[0][1] and "预警" in alerts[0][1]
    assert "重庆市→四川省" in alerts[1][1] and "已用尽" in alerts[1][1] and "¥0.00" in alerts[1][1]
    assert 'id="no-alerts"' not in html
    doc["alerts"] = []
    assert 'id="no-alerts"' in render(doc)


def test_the_balance_chart_draws_a_line_per_fund(doc: dict[str, Any]) -> None:
    html = render(doc)
    lines = re.findall(r'<polyline class="balance" data-fund="([^"]+)"[^>]*points="([^"]+)"', html)
    assert sorted(name for name, _ in lines) == ["四川省→贵州省", "四川省→重庆市", "重庆市→四川省"]
    assert html.count('<svg class="chart balances"') == 2  # one panel per insured province
    steps = dict(lines)["重庆市→四川省"].split()
    assert len(steps) == 4  # first move, the step down at the second, then held to the month's end
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = [tuple(map(float, p.split(","))) for p in steps]
    assert y0 == y1 and x1 == x2 and y2 == y3 and y2 > y1 and x0 < x1 < x3  # down (SVG y grows downward)
    assert 'class="zero"' in html
    assert "重庆市→四川省 ¥0.00 · 已用 100%" in html  # the legend


def test_the_chart_survives_a_single_point_and_nothing() -> None:
    one = str(charts.balance_lines({"甲→乙": [("2026-11-05 10:00:00", 5.0)]}, {"甲→乙": 10.0}))
    assert one.count("<polyline") == 1 and "已用 50%" in one
    empty = str(charts.balance_lines({}, {}))
    assert "<polyline" not in empty and "无数据 no data" in empty and 'class="zero"' in empty
    unmoved = str(charts.balance_lines({"甲→乙": []}, {"甲→乙": 10.0}, start="2026-11-01", end="2026-12-01"))
    assert "<polyline" not in unmoved and "本月无变动" in unmoved


def test_twenty_funds_stay_apart_and_a_busy_fund_stays_small() -> None:
    series = {f"省{i}→省{i + 1}": [("2026-11-01 00:00:00", 100.0 * i)] for i in range(20)}
    svg = str(charts.balance_lines(series, {}, start="2026-11-01 00:00:00", end="2026-12-01 00:00:00"))
    styles = re.findall(
        r'<polyline class="balance"[^>]*stroke="([^"]+)"(?: stroke-width="[^"]+")?([^>]*)', svg
    )
    assert len(styles) == 20 and len(set(styles)) == 20
    busy = [
        (f"2026-11-{1 + i // 3600:02d} {i // 60 % 24:02d}:{i % 60:02d}:00", float(i % 7))
        for i in range(20000)
    ]
    svg = str(charts.balance_lines({"甲→乙": busy}, {}))
    points = re.search(r'points="([^"]+)"', svg)
    assert points and len(points.group(1).split()) <= 4 * 600


def test_moves_before_the_month_carry_their_balance_in() -> None:
    svg = str(
        charts.balance_lines(
            {"甲→乙": [("2026-10-20 00:00:00", 40.0), ("2026-11-16 00:00:00", 20.0)]},
            {"甲→乙": 40.0},
            start="2026-11-01 00:00:00",
            end="2026-12-01 00:00:00",
        )
    )
    points = re.search(r'points="([^"]+)"', svg)
    assert points
    first = points.group(1).split()[0]
    assert first.startswith("78.0,")  # the line starts at the month's left edge, with October's balance


# ── the verdict ──────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("verdict", "zh", "en", "badge"),
    [("balanced", "平账", "BALANCED", "pass"), ("pending", "待确认", "PENDING", "pending"),
     ("unbalanced", "不平", "UNBALANCED", "fail")],
)  # fmt: skip
def test_each_verdict_is_shown_at_a_glance(
    doc: dict[str, Any], verdict: str, zh: str, en: str, badge: str
) -> None:
    doc["verdict"] = verdict
    if verdict == "balanced":
        doc["statements"][1]["state"] = "confirmed"
    if verdict == "unbalanced":
        doc["problems"] = ["清算不平 202611: 四川省→重庆市 清算单 123456.78 ≠ 结算合计 123456.77"]
    html = render(doc)
    shown = re.search(r'<div class="badge (\w+)" id="verdict" data-verdict="(\w+)">\s*'
                      r'<span class="zh">(.*?)</span>\s*<span class="en">(.*?)</span>', html)  # fmt: skip
    assert shown and shown.groups() == (badge, verdict, zh, en)
    assert f"<title>跨省异地就医清算报告 · 2026年11月 · {zh}</title>" in html
    assert 'id="inconsistent"' not in html
    assert ('id="problems"' in html) == (verdict == "unbalanced")


def test_problems_are_listed_in_red(doc: dict[str, Any]) -> None:
    doc["verdict"] = "unbalanced"
    doc["problems"] = ["清算不平 202611: 甲", "预付金流水不连续 510000→500000"]
    html = render(doc)
    listed = re.search(r'<ul id="problems" role="alert">(.*?)</ul>', html, re.S)
    assert listed and re.findall(r"<li>(.*?)</li>", listed.group(1)) == doc["problems"]
    assert "2 项不平" in html
    assert cells(html, "b", "data-total")["problems"] == "2"


def test_the_pending_verdict_says_what_waits(doc: dict[str, Any]) -> None:
    html = render(doc)
    assert "1 张清算单待参保地确认，金额 ¥4,500.00。" in html


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"verdict": "balanced"}, "1 statement(s) are not confirmed"),
        ({"verdict": "pending", "problems": ["x"]}, "1 problem(s) are listed"),
        ({"verdict": "unbalanced"}, "no problem is listed"),
        ({"verdict": "whatever"}, "not balanced, pending or unbalanced"),
    ],
)
def test_a_verdict_its_document_contradicts_is_flagged(
    doc: dict[str, Any], change: dict[str, Any], says: str
) -> None:
    doc |= change
    assert any(says in c for c in contradictions(doc))
    html = render(doc)
    assert 'id="inconsistent"' in html and says in html
    assert contradictions(PLANTED) == []


# ── the document ─────────────────────────────────────────────────────


def test_clearing_json_round_trips_with_chinese_as_chinese(doc: dict[str, Any], tmp_path: Path) -> None:
    json_path, _ = write(doc, tmp_path)
    text = json_path.read_text(encoding="utf-8")
    assert json.loads(text) == PLANTED
    assert "四川省" in text and "\\u" not in text and '\n  "month": "202611",' in text


def test_the_page_is_self_contained_and_escapes_what_it_is_given(doc: dict[str, Any]) -> None:
    hostile = "<script>alert('x')</script>"
    doc["alerts"][0]["reason"] = hostile
    doc["provinces"][GZ] = hostile
    doc["verdict"], doc["problems"] = "unbalanced", [hostile]
    html = render(doc)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    for pattern in ('src="', 'href="http', "@import", "url(", "<link", "<iframe"):
        assert pattern not in html, pattern


def test_an_empty_month_still_renders() -> None:
    html = render({"month": "202602", "generated": "", "verdict": "balanced"})
    assert "本月无清算单" in html and "2026年2月" in html and "无预付金" in html
