"""The insured location (参保地): answers person lookups, checks cards and filings, applies its own
benefit policy to the category totals it receives, keeps year-to-date usage and personal accounts,
and undoes all of it on cancellation or reversal. It also keeps the filings (备案) its insured file.

It serves the province↔hub interface (Y-transactions): from the hub for patients treated in other
provinces, and in-process from its own province's treatment face for local patients.

The node is its handler families, one module each, over what they share (:mod:`.records`):

| family | module | transactions |
|---|---|---|
| persons and filings | persons.py | Y1101, Y2501, Y2502, Y2503, Y2504 |
| admission | admission.py | Y2401, Y2404 |
| settlement, cancellation, reversal | settlement.py | Y2303, Y2304, Y2305, Y2601 |
| details after the fact | details.py | Y2301 |
| running totals for the year | totals.py | Y5206 |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...world.topology import Account, Province
from ..gateway import BusinessError, Context, World
from .admission import Admission
from .details import Details
from .persons import Persons
from .records import Insured
from .settlement import Settlement
from .totals import Totals


class InsuredNode(Insured):
    """A province's insured platform: every family's handlers under one node."""

    def __init__(self, province: Province, world: World, accounts: Mapping[str, Account]) -> None:
        super().__init__(province, world, accounts)
        t = world.topology  # the hub relays every platform's messages; the agency and its own platform speak
        self.speaks_for = {  # for themselves
            t.hub.paasid: frozenset((p.platform.code, p.admdvs[:2]) for p in t.provinces.values()),
            t.agency.paasid: frozenset({(t.agency.code, "00")}),
            province.platform.paasid: frozenset({(province.platform.code, province.admdvs[:2])}),
        }
        handlers = {
            **Persons(self).handlers,  # Y1101, Y2501–Y2504
            **Admission(self).handlers,  # Y2401, Y2404
            **Settlement(self).handlers,  # Y2303, Y2304, Y2305, Y2601
            **Details(self).handlers,  # Y2301
            **Totals(self).handlers,  # Y5206
        }
        for infno, handler in handlers.items():
            self.handlers[infno] = self._faulty(infno, handler)

    def silent(self, infno: str | None) -> bool:
        # taken where the platform is, so the outage silences it to every caller: the hub or its own province
        # in this process, a yidi process or a real hub elsewhere
        return self.faults.take("insured-outage", self.name, infno)

    def _faulty(self, infno: str, handler: Any) -> Any:
        async def run(ctx: Context) -> None:
            if infno not in ("Y1101", "Y2504") and self.faults.take("insured-error", self.name, infno):
                raise BusinessError("E6009", detail="参保地系统异常（故障注入）")
            await handler(ctx)

        return run
