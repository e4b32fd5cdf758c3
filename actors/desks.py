"""The provinces' clearing desks (清算岗) at month end, speaking to the hub as their platforms (Y3201–Y3204):
fetch the month's clearing statements, confirm and pay them, top up a fund, read the funds. What
``yidi clear`` does for every province, against yidi's hub or a hub of one's own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..specs.model import Spec
from .his import His, Hospital


@dataclass
class Desk:
    """One province's platform at the hub: a signed client (msgids start with the platform's code)."""

    admdvs: str
    name: str
    client: His

    @classmethod
    def of(
        cls, spec: Spec, roster: Mapping[str, Any], province: Mapping[str, Any], http: httpx.Client
    ) -> Desk:
        platform = province["platform"]
        hospital = Hospital(
            platform["code"], province["name"], province["admdvs"], roster["hub"]["url"],
            platform["paasid"], platform["secret"],
        )  # fmt: skip
        return cls(province["admdvs"], province["name"], His(spec, hospital, client=http))

    def statements(self, month: str) -> list[dict[str, Any]]:
        """Y3201: the month's statements that concern this province (as payer or payee)."""
        return list(self.client.call("Y3201", {"data": {"setlym": month}}).output.get("clrinfo") or [])

    def confirm(self, month: str) -> list[dict[str, Any]]:
        """Y3202: confirm and pay what this province owes for the month."""
        return list(self.client.call("Y3202", {"data": {"setlym": month}}).output.get("clrinfo") or [])

    def top_up(self, treatment: str, amount: float) -> dict[str, Any]:
        """Y3203: top up this province's fund at a treatment province."""
        data = {"mdtrtarea_admdvs": treatment, "topup_amt": amount}
        return dict(self.client.call("Y3203", {"data": data}).output["prepayinfo"])

    def funds(self) -> list[dict[str, Any]]:
        """Y3204: the funds that concern this province."""
        return list(self.client.call("Y3204", {"data": {}}).output.get("prepayinfo") or [])


# ── month end: what ``yidi clear`` does ─────────────────────────────────

STATE = {"1": "issued", "2": "confirmed"}
ALERT = {"0": "", "1": "warn", "2": "urgent", "3": "exhausted"}


def month_end(
    spec: Spec, roster: Mapping[str, Any], month: str, *, withhold: Collection[str] = ()
) -> dict[str, Any]:
    """Every province fetches the month's statements and, unless withheld, confirms and pays what it owes;
    then the statements and funds as the hub has them, as a clearing document (reports/clearing.py)."""
    with httpx.Client(timeout=60) as http:
        desks = [Desk.of(spec, roster, p, http) for p in roster["provinces"]]
        for desk in desks:
            desk.statements(month)  # the hub issues the month's statements at the first asking
        for desk in desks:
            if desk.admdvs not in withhold and any(
                s["insuplc_admdvs"] == desk.admdvs and s["clr_stas"] == "1" for s in desk.statements(month)
            ):
                desk.confirm(month)
        statements = {
            (s["insuplc_admdvs"], s["mdtrtarea_admdvs"]): s for desk in desks for s in desk.statements(month)
        }
        funds = {(f["insuplc_admdvs"], f["mdtrtarea_admdvs"]): f for desk in desks for f in desk.funds()}
    return {
        "month": month,
        "provinces": {p["admdvs"]: p["name"] for p in roster["provinces"]},
        "statements": [
            {
                "insured": s["insuplc_admdvs"],
                "treatment": s["mdtrtarea_admdvs"],
                "settlements": int(s["setl_cnt"]),
                "amount": float(s["clr_amt"]),
                "state": STATE[str(s["clr_stas"])],
            }
            for s in statements.values()
        ],
        "funds": [
            {
                "insured": f["insuplc_admdvs"],
                "treatment": f["mdtrtarea_admdvs"],
                "size": float(f["prepay_amt"]),
                "balance": float(f["balc"]),
                "alert": ALERT[str(f["prepay_alert_lv"])],
            }
            for f in funds.values()
        ],
    }
