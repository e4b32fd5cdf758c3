"""Inline SVG charts for the HTML report: drawn here, with no script or font to fetch, so the report
looks the same opened from disk on a machine with no network.

Every mark carries its label and count as text (and a ``<title>`` for a pointer), so the chart reads
without colour and without a legend lookup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from .document import FLOW_ZH, OUTCOME_ZH, OUTCOMES

COLOUR = {"passed": "#2e7d32", "failed": "#c62828", "error": "#e65100", "skipped": "#9e9e9e"}
FONT = 'font-family="inherit"'


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
