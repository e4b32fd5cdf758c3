"""A person's running totals for the year (人员累计信息, Y5206): the year-to-date counters the settlements
keep (``benefits.Usage``) told in the interface's 累计类别 codes (specs/data/codes.yaml ``cum_type_code``).

| counter | code |
|---|---|
| ``stays:<setting>`` | C0000 住院次数 |
| ``deductible:<setting>:<level>`` (every level summed) | Q0000 已付起付线 |
| ``eligible:<setting>`` | S0000 本年度分段计算费用累计 |
| ``inscp:<setting>`` | P0000 政策范围内费用累计 (yidi's) |
| ``cap:<cap>`` (the pooled fund) | D + pooled fund_pay_type |
| ``paid:<fund>`` | D + the fund's fund_pay_type |
| ``base:<fund>`` | TS + the fund's fund_pay_type |

A setting other than inpatient adds ``_BIZ<med_type>`` (11 普通门诊, 14 门诊慢特病); a fund's code is its
fund_pay_type's first five digits and 1 (310100 → D310101). Two layers of one fund answer one total.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from ...specs.money import wire
from ...world.policy import SETTINGS, Terms
from ..benefits import Usage, usage_of
from ..gateway import Context
from .records import Insured

SUFFIX = {"inpatient": "", "outpatient": "_BIZ11", "chronic": "_BIZ14"}
BY_SETTING = {"stays": "C0000", "deductible": "Q0000", "eligible": "S0000", "inscp": "P0000"}


def fund_code(prefix: str, fund_pay_type: str) -> str:
    return f"{prefix}{fund_pay_type[:5]}1"


def totals(used: Usage, terms: Terms, *, cap_by_setting: bool = True) -> dict[str, Decimal]:
    """The year's counters as cum_type_code → value (``cap_by_setting`` off: every cap's usage under the
    inpatient code, as a platform knowing one pooled-fund total would)."""
    caps: dict[str, str] = {}  # a cap's counter → the suffix of the first setting keeping it
    for name in SETTINGS if cap_by_setting else ():
        if name in terms.settings:
            caps.setdefault(terms.settings[name].cap, SUFFIX[name])
    funds = {f.counter: f.fund_pay_type for f in terms.funds}
    out: dict[str, Decimal] = defaultdict(Decimal)
    for key, value in used.items():
        kind, _, rest = key.partition(":")
        if kind in BY_SETTING:
            out[BY_SETTING[kind] + SUFFIX.get(rest.split(":")[0], "")] += value
        elif kind == "cap":
            out[fund_code("D", terms.fund_pay_type) + caps.get(rest, "")] += value
        elif kind in ("paid", "base"):
            out[fund_code("D" if kind == "paid" else "TS", funds.get(rest, rest))] += value
    return dict(out)


class Totals:
    """The Y5206 handler of one insured province."""

    def __init__(self, node: Insured) -> None:
        self.node = node
        self.handlers = {"Y5206": self.cumulative}

    async def cumulative(self, ctx: Context) -> None:
        """The totals of the insurance year of ``cum_ym`` (default: this month), as they stand now."""
        node, data = self.node, ctx.input["data"]
        person = node.person(data["psn_no"])
        policy = node.policy(person)
        month = str(data.get("cum_ym") or ctx.now.strftime("%Y%m"))
        day = date(int(month[:4]), int(month[4:6]), 1)
        year = policy.insurance_year(day)
        with ctx.answer() as conn:
            _, doc = node.state(conn, person.psn_no)
            used = usage_of(doc["ytd"].get(str(year), {}))
            by_setting = not node.faults.mutant("totals-outpatient-cap-as-inpatient")
            row = {"insutype": person.insutype, "year": str(year), "cum_ym": month}
            ctx.output = {
                "cuminfo": [
                    {**row, "cum_type_code": code, "cum": wire(value)}
                    for code, value in sorted(totals(used, policy.on(day), cap_by_setting=by_setting).items())
                    if not (code.startswith("Q0000") and node.faults.mutant("totals-omit-deductible"))
                ]
            }
