"""Details after the fact (事后传明细): the fee lines of a settlement the treatment side sends in batches
(Y2301) after the settlement, kept once each whatever the batches repeat."""

from __future__ import annotations

from sqlalchemy import select

from ..gateway import BusinessError, Context
from ..store import details, insured_settlements
from .records import Insured


class Details:
    """The Y2301 handler of one insured province."""

    def __init__(self, node: Insured) -> None:
        self.node = node
        self.handlers = {"Y2301": self.receive}

    async def receive(self, ctx: Context) -> None:
        node = self.node
        data = ctx.input["data"]
        with ctx.answer() as conn:
            if (
                conn.execute(
                    select(insured_settlements.c.msgid).where(
                        insured_settlements.c.node == node.name,
                        insured_settlements.c.setl_id == data["setl_id"],
                    )
                ).first()
                is None
            ):
                raise BusinessError("E4005", setl_id=data["setl_id"], mdtrt_id=data["mdtrt_id"])
            have = set(
                conn.execute(
                    select(details.c.feedetl_sn).where(
                        details.c.node == node.name, details.c.setl_id == data["setl_id"]
                    )
                ).scalars()
            )
            rows = [
                {
                    "node": node.name,
                    "setl_id": data["setl_id"],
                    "feedetl_sn": line["feedetl_sn"],
                    "line": line,
                }
                for line in ctx.input["feedetail"]
                if line["feedetl_sn"] not in have
            ]
            if rows:
                conn.execute(details.insert(), rows)
            again = (
                len(ctx.input["feedetail"]) - len(rows)
                if node.faults.mutant("details-repeats-counted")
                else 0
            )
            ctx.output = {"result": {"totalrow": len(have) + len(rows) + again}}
