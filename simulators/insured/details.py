"""Details after the fact (事后传明细): the fee lines of a settlement the treatment side sends in batches
(Y2301) after the settlement, kept once each whatever the batches repeat."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, select

from ..gateway import BusinessError, Context
from ..store import details, insured_settlements
from .records import Insured


class Details:
    """The Y2301 handler of one insured province."""

    def __init__(self, node: Insured) -> None:
        self.node = node
        self.handlers = {"Y2301": self.receive}
        # the settlement and the lines it has already, in one statement (one round trip on PostgreSQL)
        settled = insured_settlements.alias("settled")
        mine = and_(details.c.node == settled.c.node, details.c.setl_id == settled.c.setl_id)
        if node.faults.mutant("details-matched-across-settlements"):  # any settlement's lines of the node
            mine = details.c.node == settled.c.node
        self.lines = node.store.q.prepare(
            select(settled.c.msgid, details.c.feedetl_sn)
            .select_from(settled.outerjoin(details, mine))
            .where(settled.c.node == bindparam("k_node"), settled.c.setl_id == bindparam("k_setl_id"))
        )
        self.line = node.store.q.prepare(details.insert())  # the lines in one call, not waited for

    async def receive(self, ctx: Context) -> None:
        node = self.node
        data = ctx.input["data"]
        with ctx.answer() as conn:
            found = self.lines.all(conn, k_node=node.name, k_setl_id=data["setl_id"])
            if not found:
                raise BusinessError("E4005", setl_id=data["setl_id"], mdtrt_id=data["mdtrt_id"])
            have = {row.feedetl_sn for row in found if row.feedetl_sn is not None}
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
                self.line.run_many(conn, rows, redo=True)
            again = (
                len(ctx.input["feedetail"]) - len(rows)
                if node.faults.mutant("details-repeats-counted")
                else 0
            )
            ctx.output = {"result": {"totalrow": len(have) + len(rows) + again}}
