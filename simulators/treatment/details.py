"""Details after the fact (事后传明细): the classified fee lines of each settled visit go to its insured
side in batches (Y2301) after the settlement, which carried category totals only; what cannot be sent yet
stays pending and is sent on the next round."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from ..links import Unreachable
from ..store import settlements
from .fees import result_line
from .visits import Treatment, Visit, log

BATCH = 100  # fee lines a Y2301


class Details:
    """The sender of one treatment province's details: an outbox of settlements, emptied in the background."""

    def __init__(self, node: Treatment) -> None:
        self.node = node

    async def send(self) -> int:
        """Send the classified fee lines of settled visits to their insured side, in batches (Y2301)."""
        node = self.node
        with node.store.begin() as conn:  # the database chooses: not every settlement's document parsed here
            pending = conn.execute(
                select(settlements).where(
                    settlements.c.node == node.name,
                    settlements.c.kind == "settle",
                    settlements.c.status == "active",
                    settlements.c.doc["details"].as_string() == "pending",
                )
            ).all()
        sent = 0
        for row in pending:
            with node.store.begin() as conn:
                found = node.store.q.visit.first(conn, k_node=node.name, k_mdtrt_id=row.mdtrt_id)
                assert found is not None, row.mdtrt_id  # a settlement's visit is never deleted
                fees = node.load_fees(conn, Visit(found))
            lines = [line(sn, f) for sn, f in fees.items() if f.get("setl_id") == row.setl_id]
            peer = node.insurer(row.insuplc_admdvs)
            try:
                for start in range(0, len(lines), BATCH):
                    answer = await peer.call(
                        "Y2301",
                        {
                            "data": {
                                "mdtrt_id": row.mdtrt_id,
                                "setl_id": row.setl_id,
                                "psn_no": row.psn_no,
                                "totalrow": len(lines),
                            },
                            "feedetail": lines[start : start + BATCH],
                        },
                        insuplc_admdvs=row.insuplc_admdvs,
                    )
                    if answer.get("infcode") not in (0, "0"):
                        raise Unreachable(str(answer.get("err_msg")))
            except Unreachable as e:
                log.warning("%s: details of %s not sent yet: %s", node.name, row.setl_id, e)
                if not node.faults.mutant("details-dropped-when-away"):
                    continue
            with node.store.begin() as conn:
                doc = {**row.doc, "details": "sent"}
                node.store.q.settlement_doc.run(conn, k_node=node.name, k_msgid=row.msgid, doc=doc)
            sent += 1
        return sent


def line(sn: str, fee: Mapping[str, Any]) -> dict[str, Any]:
    """One fee line as the insured side receives it after the fact."""
    r = result_line(sn, fee)
    return {
        "feedetl_sn": sn,
        "fee_ocur_time": fee["time"],
        "med_list_codg": fee["code"],
        "medins_list_codg": fee["medins_list_codg"],
        **{
            k: r[k]
            for k in (
                "det_item_fee_sumamt",
                "cnt",
                "pric",
                "pric_uplmt_amt",
                "selfpay_prop",
                "fulamt_ownpay_amt",
                "overlmt_amt",
                "preselfpay_amt",
                "inscp_scp_amt",
                "chrgitm_lv",
                "med_chrgitm_type",
            )
        },
    }
