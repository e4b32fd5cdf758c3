"""Inline SVG charts for the HTML report: drawn here, with no script or font to fetch, so the report
looks the same opened from disk on a machine with no network.

Every mark carries its label and count as text (and a ``<title>`` for a pointer), so the chart reads
without colour and without a legend lookup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import groupby, pairwise

from markupsafe import Markup, escape

from ..suites.document import FLOW_ZH, OUTCOME_ZH, OUTCOMES

COLOUR = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "error": "#e65100",
    "skipped": "#9e9e9e",
    "blocked": "#6a1b9a",
    "not_applicable": "#f9a825",
}
FONT = 'font-family="inherit"'
# one colour and dash per fund line: ten colours, then the same colours dashed, so 30 lines stay apart
LINE_COLOURS = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
)  # fmt: skip
LINE_DASHES = ("", "7 3", "2 3")
Scale = Callable[..., float]  # a value (time or yuan) to its SVG coordinate


def _text(x: float, y: float, s: str, *, size: int = 12, anchor: str = "start", **attrs: str) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {FONT}{extra}>'
        f"{escape(s)}</text>"
    )


def donut(counts: Mapping[str, int], *, total_label: str = "用例 cases") -> Markup:
    """Outcomes as a ring (one arc per outcome, clockwise from the top) with a legend of counts."""
    total = sum(counts.get(o, 0) for o in OUTCOMES)
    r, cx, cy, width = 62.0, 85.0, 85.0, 26.0
    circumference = 2 * math.pi * r
    parts = [
        f'<svg class="chart donut" role="img" viewBox="0 0 340 170" width="340" height="170" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(_summary(counts))}">',
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="#eceff1" stroke-width="{width}"/>',
    ]
    start = 0.0
    for outcome in OUTCOMES:
        n = counts.get(outcome, 0)
        if not n or not total:
            continue
        length = circumference * n / total
        parts.append(
            f'<circle class="arc {outcome}" cx="{cx}" cy="{cy}" r="{r}" fill="none" '
            f'stroke="{COLOUR[outcome]}" stroke-width="{width}" '
            f'stroke-dasharray="{length:.2f} {circumference - length:.2f}" '
            f'stroke-dashoffset="{-start:.2f}" transform="rotate(-90 {cx} {cy})">'
            f"<title>{escape(OUTCOME_ZH[outcome])} {outcome}: {n}</title></circle>"
        )
        start += length
    parts.append(_text(cx, cy + 4, str(total), size=30, anchor="middle", font_weight="700", fill="#263238"))
    parts.append(_text(cx, cy + 24, total_label, size=11, anchor="middle", fill="#607d8b"))
    for i, outcome in enumerate(OUTCOMES):
        y = 40 + i * 30
        n = counts.get(outcome, 0)
        parts.append(f'<rect x="190" y="{y - 11}" width="14" height="14" rx="3" fill="{COLOUR[outcome]}"/>')
        parts.append(_text(212, y, f"{OUTCOME_ZH[outcome]} {outcome}", size=13, fill="#37474f"))
        parts.append(
            _text(330, y, str(n), size=15, anchor="end", font_weight="700", fill="#263238", class_="count")
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def flow_bars(cases: Sequence[Mapping[str, object]]) -> Markup:
    """One stacked bar per flow (all seven, so a flow with no case shows as a gap in coverage)."""
    per_flow = {flow: dict.fromkeys(OUTCOMES, 0) for flow in FLOW_ZH}
    for c in cases:
        flow, outcome = str(c.get("flow")), str(c.get("outcome"))
        if outcome in OUTCOMES:
            per_flow.setdefault(flow, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
    widest = max((sum(v.values()) for v in per_flow.values()), default=0) or 1
    row, left, span = 30, 150, 420.0
    height = row * len(per_flow) + 34
    parts = [
        f'<svg class="chart flows" role="img" viewBox="0 0 640 {height}" width="640" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="各流程用例结果 outcomes per flow">'
    ]
    for i, (flow, counts) in enumerate(per_flow.items()):
        y = 8 + i * row
        label = f"{FLOW_ZH.get(flow, flow)} {flow}"
        parts.append(_text(left - 10, y + 15, label, size=12, anchor="end", fill="#37474f"))
        total = sum(counts.values())
        if not total:
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{span}" height="18" rx="3" fill="#f5f7f8"/>')
            parts.append(_text(left + 8, y + 15, "本次无用例 no cases", size=11, fill="#90a4ae"))
            continue
        x = float(left)
        for outcome in OUTCOMES:
            n = counts[outcome]
            if not n:
                continue
            w = span * n / widest
            parts.append(
                f'<rect class="bar {outcome}" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="18" '
                f'fill="{COLOUR[outcome]}"><title>{escape(label)} · {OUTCOME_ZH[outcome]} {outcome}: {n}'
                "</title></rect>"
            )
            if w >= 16:  # the count goes inside the segment when it fits
                parts.append(_text(x + w / 2, y + 15, str(n), size=11, anchor="middle", fill="#fff"))
            x += w
        passed = counts["passed"]
        parts.append(_text(x + 8, y + 15, f"{passed}/{total} 通过", size=11, fill="#546e7a"))
    axis_y = 8 + len(per_flow) * row + 6
    for k, outcome in enumerate(OUTCOMES):  # a legend under the bars
        lx = left + k * 105
        parts.append(f'<rect x="{lx}" y="{axis_y}" width="11" height="11" rx="2" fill="{COLOUR[outcome]}"/>')
        parts.append(_text(lx + 16, axis_y + 10, f"{OUTCOME_ZH[outcome]} {outcome}", size=11, fill="#546e7a"))
    parts.append("</svg>")
    return Markup("".join(parts))


def _summary(counts: Mapping[str, int]) -> str:
    return "，".join(f"{OUTCOME_ZH[o]} {counts.get(o, 0)}" for o in OUTCOMES)


def yuan_text(amount: float) -> str:
    """Money as a ministry writes it: ``¥1,234,567.80`` (``-¥…`` below zero)."""
    return f"{'-' if amount < 0 else ''}¥{abs(amount):,.2f}"


def balance_lines(
    series: Mapping[str, Sequence[tuple[str, float]]],
    sizes: Mapping[str, float],
    *,
    start: str | None = None,
    end: str | None = None,
    label: str = "预付金余额 prepayment balances",
) -> Markup:
    """One step line per fund (label → ``(time, balance after the move)``): a balance holds until the next
    movement, so the line is flat between moves and carried on to ``end``. The x axis spans ``start`` to
    ``end`` (the month; by default the times given), the y axis yuan with y = 0 drawn. The legend gives
    each fund's last balance and the share of its size (``sizes``) used. A fund with no point is listed
    as unmoved; an empty mapping draws an empty frame that says so."""
    points = {name: _instants(p) for name, p in series.items()}
    lo, hi = _span([t for p in points.values() for t, _ in p], start, end)
    lines = {name: _clip(p, lo, hi) for name, p in points.items()}
    values = [b for p in lines.values() for _, b in p] + [sizes.get(name, 0.0) for name in lines]
    bottom, top = min([0.0, *values]), max([1.0, *values])
    ticks = _ticks(bottom, top)
    bottom, top = min(bottom, ticks[0]), max(top, ticks[-1])
    left, right, y0, plot_h, width = 78.0, 664.0, 14.0, 170.0, 680
    legend_y = y0 + plot_h + 36
    height = int(legend_y + 18 * math.ceil(max(len(lines), 1) / 2) + 4)
    span = (hi - lo).total_seconds()

    def x(t: datetime) -> float:
        return left + (right - left) * (t - lo).total_seconds() / span

    def y(v: float) -> float:
        return y0 + plot_h * (top - v) / (top - bottom)

    parts = [
        f'<svg class="chart balances" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" aria-label="{escape(label)}">',
        f'<rect x="{left}" y="{y0}" width="{right - left}" height="{plot_h}" fill="#fafbfc" '
        'stroke="#eceff1"/>',
    ]
    for v in ticks:
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eceff1"/>')
        parts.append(_text(left - 6, y(v) + 4, _wan(v), size=10, anchor="end", fill="#78909c"))
    for t, text in _time_ticks(lo, hi):
        parts.append(_text(x(t), y0 + plot_h + 15, text, size=10, anchor="middle", fill="#78909c"))
    parts.append(
        f'<line class="zero" x1="{left}" x2="{right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#455a64" '
        'stroke-width="1.2"/>'
    )
    if not lines:
        parts.append(
            _text((left + right) / 2, y0 + plot_h / 2, "无数据 no data", anchor="middle", fill="#90a4ae")
        )
    for i, (name, p) in enumerate(lines.items()):
        colour, dash = LINE_COLOURS[i % 10], LINE_DASHES[i // 10 % len(LINE_DASHES)]
        parts += _fund_line(name, p, hi, colour, dash, x, y)
        parts += _legend_entry(i, name, p, sizes.get(name), colour, dash, legend_y)
    parts.append("</svg>")
    return Markup("".join(parts))


def _fund_line(
    name: str, p: Sequence[tuple[datetime, float]], hi: datetime, colour: str, dash: str, x: Scale, y: Scale
) -> list[str]:
    if not p:
        return []
    steps = [(x(p[0][0]), y(p[0][1]))]
    for (_, before), (t, after) in pairwise(p):
        steps += [(x(t), y(before)), (x(t), y(after))]
    steps.append((x(hi), y(p[-1][1])))
    steps = _thin(steps)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    last_x, last_y = x(p[-1][0]), y(p[-1][1])
    return [
        f'<polyline class="balance" data-fund="{escape(name)}" fill="none" stroke="{colour}" '
        f'stroke-width="1.8"{dashed} points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in steps)}">'
        f"<title>{escape(name)}：余额 {yuan_text(p[-1][1])}</title></polyline>",
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.6" fill="{colour}"/>',
    ]


def _legend_entry(
    i: int,
    name: str,
    p: Sequence[tuple[datetime, float]],
    size: float | None,
    colour: str,
    dash: str,
    top: float,
) -> list[str]:
    lx, ly = 20 + (i % 2) * 330, top + 18 * (i // 2)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    if not p:
        text = f"{name} 本月无变动 no movement"
    else:
        used = f" · 已用 {(size - p[-1][1]) / size:.0%}" if size else ""
        text = f"{name} {yuan_text(p[-1][1])}{used}"
    return [
        f'<line x1="{lx}" x2="{lx + 22}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
        f'stroke-width="2.4"{dashed}/>',
        _text(lx + 28, ly, text, size=11, fill="#37474f", class_="legend"),
    ]


def _thin(steps: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most four points per pixel column (its first, lowest, highest and last): a month of a busy
    fund is thousands of moves, and the page must stay small without losing a dip."""
    kept: list[tuple[float, float]] = []
    for _, group in groupby(steps, key=lambda p: round(p[0])):
        column = list(group)
        low, high = min(column, key=lambda p: p[1]), max(column, key=lambda p: p[1])
        kept += dict.fromkeys((column[0], low, high, column[-1]))
    return kept


def _instants(points: Sequence[tuple[str, float]]) -> list[tuple[datetime, float]]:
    """The points whose time reads, in time order (a time that does not read is left out, not guessed)."""
    read = []
    for when, balance in points:
        try:
            read.append((datetime.fromisoformat(str(when)), float(balance)))
        except ValueError:
            continue
    return sorted(read, key=lambda tb: tb[0])


def _span(times: Sequence[datetime], start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The x axis: ``start``..``end`` where given, else the times'; never of zero length."""
    lo = _instant(start) or min(times, default=None) or datetime(2000, 1, 1)
    hi = _instant(end) or max(times, default=None) or lo
    if hi <= lo:  # one instant: half a day either side
        lo, hi = lo - timedelta(hours=12), lo + timedelta(hours=12)
    return lo, hi


def _instant(when: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(when) if when else None
    except ValueError:
        return None


def _clip(p: Sequence[tuple[datetime, float]], lo: datetime, hi: datetime) -> list[tuple[datetime, float]]:
    """The points inside the axis; the balance held when the axis starts becomes its first point."""
    before = [b for t, b in p if t < lo]
    inside = [(t, b) for t, b in p if lo <= t <= hi]
    return ([(lo, before[-1])] if before else []) + inside


def _ticks(bottom: float, top: float) -> list[float]:
    """Round values from ``bottom`` to ``top`` (about five of them, always including 0)."""
    raw = (top - bottom) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(bottom / step)
    return [k * step for k in range(first, math.ceil(top / step) + 1)]


def _time_ticks(lo: datetime, hi: datetime) -> list[tuple[datetime, str]]:
    """Days (at most seven ticks) over a span of days, else hours."""
    days = (hi - lo).total_seconds() / 86400
    if days >= 2:
        step, fmt = timedelta(days=math.ceil(days / 7)), "%m-%d"
        t = lo.replace(hour=0, minute=0, second=0, microsecond=0)
        t += timedelta(days=1) if t < lo else timedelta()
    else:
        step, fmt = (hi - lo) / 6, "%m-%d %H:%M" if days > 1 else "%H:%M"
        t = lo
    ticks = []
    while t <= hi:
        ticks.append((t, t.strftime(fmt)))
        t += step
    return ticks


def _wan(v: float) -> str:
    """An axis label: yuan in 万 (ten thousands) once they are that large."""
    if abs(v) >= 10_000:
        return f"{v / 10_000:,.0f}万" if v % 10_000 == 0 else f"{v / 10_000:,.1f}万"
    return f"{v:,.0f}"
