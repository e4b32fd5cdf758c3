"""The treatment location (就医地): the hospital-facing interface of a provincial platform.

It classifies every fee line with its own catalog (就医地目录), keeps the visits and their fee details,
and settles through the insured location with category totals only (实时传大类): in-process for its
own insured, through the national hub for everyone else. Item details follow after the fact
(事后传明细). Inpatient (23xx/24xx) and outpatient (22xx) visits share one code path.

The node is its handler families, one module each, over what they share (:mod:`.visits`):

| family | module | transactions |
|---|---|---|
| sign-in, person | signin.py | 9001, 9002, 1101 |
| admission | admission.py | 2401/2201, 2404/2202, 2403/2203, 2402, 2405 |
| fees | fees.py | 2301/2204, 2302/2205 |
| settlement, reversal, recovery | settlement.py | 2303/2206, 2304/2207, 2305/2208, 2601 |
| queries | queries.py | 5203, 5204, 5206, 5303 |
| details after the fact | details.py | Y2301 (sent in the background) |
| remote clearing | remote.py | 3260, 3261, 3262 |
| reconciliation | reconcile.py | 3201, 3202, 9101, 9102 |
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ...specs.model import Spec
from ...world.topology import Province
from ..gateway import World
from ..insured.records import Insured
from .admission import Admission
from .details import Details
from .fees import Fees
from .queries import Queries
from .reconcile import Reconciliation
from .remote import RemoteClearing
from .settlement import Settlement
from .signin import SignIn
from .visits import Treatment


class TreatmentNode(Treatment):
    """A treatment province's hospital gateway: every family's handlers under one node."""

    def __init__(self, province: Province, world: World, wire: Spec, insured: Insured) -> None:
        super().__init__(province, world, wire, insured)
        self.settlement, self.details = Settlement(self), Details(self)
        self.handlers |= SignIn(self).handlers  # 9001, 9002, 1101
        self.handlers |= Admission(self).handlers  # 2401/2201, 2404/2202, 2403/2203, 2402, 2405
        self.handlers |= Fees(self).handlers  # 2301/2204, 2302/2205
        self.handlers |= self.settlement.handlers  # 2303/2206, 2304/2207, 2305/2208, 2601
        self.handlers |= Queries(self).handlers  # 5203, 5204, 5206, 5303
        self.handlers |= RemoteClearing(self).handlers  # 3260–3262
        self.handlers |= Reconciliation(self).handlers  # 3201, 3202, 9101, 9102

    def respond(self, infno: str | None, infcode: int, **kw: Any) -> dict[str, Any]:
        body = super().respond(infno, infcode, **kw)  # checked against the spec before it may leave
        spoil = SPOILED.get(infno or "")
        if spoil and isinstance(body.get("output"), dict) and self.faults.mutant(spoil[0]):
            body = {**body, "output": spoil[1](copy.deepcopy(body["output"]))}  # past the check
        return body

    async def recover(self) -> int:
        """Reverse the claims a crash or an unreachable insured side left behind (:mod:`.settlement`)."""
        return await self.settlement.recover()

    async def send_details(self) -> int:
        """Send the fee lines of settled visits after the fact (:mod:`.details`)."""
        return await self.details.send()


def _spoil_rows(node: str, **change: Callable[[Any], Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An output whose ``node`` (one object or a list of them) has some fields changed."""

    def spoil(output: dict[str, Any]) -> dict[str, Any]:
        rows = output.get(node)
        for row in rows if isinstance(rows, list) else [rows] if isinstance(rows, dict) else []:
            for key, how in change.items():
                if key in row:
                    row[key] = how(row[key])
        return output

    return spoil


def _drop(node: str, key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def spoil(output: dict[str, Any]) -> dict[str, Any]:
        for row in output.get(node) or []:
            row.pop(key, None)
        return output

    return spoil


# Conformance mutants: an answer spoiled after its own check against the spec, as a platform that does not
# check what it sends would answer (infno → mutant, spoiler). Each is caught by a JT-CON case.
SPOILED: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "1101": (
        "answer-code-outside-table",
        _spoil_rows("baseinfo", psn_cert_type=lambda v: str(v).lstrip("0")),
    ),
    "2301": ("answer-missing-field", _drop("result", "lmt_used_flag")),
    "2303": (
        "answer-money-unbalanced",
        _spoil_rows("setlinfo", psn_part_amt=lambda v: round(float(v) + 0.01, 2)),
    ),
    "2304": ("answer-datetime-format", _spoil_rows("setlinfo", setl_time=lambda v: str(v).replace("-", "/"))),
    "2305": ("answer-over-length", _spoil_rows("setlinfo", medins_setl_id=lambda v: f"{v}-CANCELLED")),
    "5204": ("answer-decimal-precision", _spoil_rows("data", det_item_fee_sumamt=lambda v: float(v) + 0.005)),
}
