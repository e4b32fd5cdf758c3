"""Queries a hospital makes of the treatment location: a settlement (5203), a visit's fee details (5204)
and the patients in hospital (5303), from the platform's own books; a person's running totals for the year
(5206), which only the insured side keeps, asked of it (Y5206)."""

from __future__ import annotations

from sqlalchemy import select

from ..gateway import BusinessError, Context
from ..store import settlements, visits
from .fees import result_line
from .visits import OPEN, Treatment


class Queries:
    """The 5203, 5204, 5206 and 5303 handlers of one treatment province."""

    def __init__(self, node: Treatment) -> None:
        self.node = node
        self.handlers = {
            "5203": self.settlement,
            "5204": self.fees,
            "5206": self.totals,
            "5303": self.in_hospital,
        }

    async def settlement(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        with ctx.answer() as conn:
            row = conn.execute(
                select(settlements).where(
                    settlements.c.node == node.name,
                    settlements.c.mdtrt_id == data["mdtrt_id"]
                    if node.faults.mutant("query-by-visit-only")
                    else settlements.c.setl_id == data["setl_id"],
                    settlements.c.kind == "settle",
                    settlements.c.fixmedins_code == ctx.account.code,
                )
            ).first()
            someone_else = row is not None and row.psn_no != data["psn_no"]
            if (
                row is None
                or row.mdtrt_id != data["mdtrt_id"]
                or (someone_else and not node.faults.mutant("query-ignores-psn-no"))
            ):
                raise BusinessError("E4005", setl_id=data["setl_id"], mdtrt_id=data["mdtrt_id"])
            visit = node.load(conn, ctx, row.mdtrt_id)
            hospital = node.province.hospitals[row.fixmedins_code]
            s = row.doc["setlinfo"]
            if node.faults.mutant("query-answers-presettlement"):  # the trial's amounts, not the settlement's
                s = {**s, **visit.doc.get("presettlement", {})}
            pay_loc = "4" if row.cross else ("3" if row.insuplc_admdvs != hospital.admdvs else "2")
            ctx.output = {
                "setlinfo": {
                    **s,
                    "pay_loc": pay_loc,
                    "fixmedins_code": hospital.code,
                    "fixmedins_name": hospital.name,
                    "hosp_lv": hospital.hosp_lv,
                    "insu_optins": row.insuplc_admdvs,
                    "begndate": visit.doc["begntime"][:10],
                    "enddate": (visit.doc.get("endtime") or s["setl_time"])[:10],
                    "psn_pay": s["psn_part_amt"],
                    "cash_payamt": s["psn_cash_pay"],
                    "refd_setl_flag": "0"
                    if row.status == "active" or node.faults.mutant("query-ignores-cancellation")
                    else "1",
                    "year": s["setl_time"][:4],
                },
                "setldetail": row.doc["setldetail"],
            }

    async def fees(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"])
            if visit.psn_no != data["psn_no"]:
                raise BusinessError("E4001", mdtrt_id=data["mdtrt_id"])
            rows = [
                {
                    **result_line(sn, f),
                    "mdtrt_id": visit.mdtrt_id,
                    "setl_id": f.get("setl_id") or "",
                    "med_type": visit.doc["med_type"],
                    "fee_ocur_time": f["time"],
                    "hilist_code": f["code"],
                    "hilist_name": f["name"],
                    "list_type": f["list_type"],
                    "med_list_codg": f["code"],
                    "medins_list_codg": f["medins_list_codg"],
                    "medins_list_name": f["name"],
                    "dosform_name": "无",
                }
                for sn, f in node.load_fees(conn, visit).items()
                if (f["status"] == "active" or node.faults.mutant("fee-query-includes-cancelled"))
                and data.get("setl_id") in (None, "", f.get("setl_id"))
            ]
            ctx.output = {"data": rows}

    async def in_hospital(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        with ctx.answer() as conn:
            query = select(visits).where(
                visits.c.node == node.name,
                visits.c.kind == "inpatient",
                visits.c.fixmedins_code == ctx.account.code,
                visits.c.state.in_(
                    (*OPEN, "settled") if node.faults.mutant("in-hospital-lists-settled") else OPEN
                ),
            )
            if data.get("psn_no") and not node.faults.mutant("in-hospital-ignores-psn-no"):
                query = query.where(visits.c.psn_no == data["psn_no"])
            rows = []
            for row in conn.execute(query):
                doc, person = row.doc, row.doc["person"]
                if data["begntime"] <= doc["begntime"] <= data["endtime"]:
                    rows.append(
                        {
                            "mdtrt_id": row.mdtrt_id,
                            "psn_no": row.psn_no,
                            "psn_cert_type": "01",
                            "certno": person["certno"],
                            "psn_name": person["psn_name"],
                            "gend": person["gend"],
                            "brdy": person["brdy"],
                            "age": person["age"],
                            "insutype": person["insutype"],
                            "begndate": doc["begntime"][:10],
                            "med_type": doc["med_type"],
                            "ipt_otp_no": doc["ipt_otp_no"],
                            "out_flag": "1" if row.cross else "0",
                        }
                    )
            ctx.output = {"data": rows}

    async def totals(self, ctx: Context) -> None:
        """5206: the insured side's answer, as it came; the person's insured province is the one the
        platform looked them up in (1101), or the one the hospital names."""
        node, data = self.node, ctx.input["data"]
        with node.store.begin() as conn:
            seen = node.store.q.seen.first(conn, k_node=node.name, k_psn_no=data["psn_no"])
        insuplc = (
            str(seen.doc["insuinfo"][0]["insuplc_admdvs"])
            if seen
            else str(ctx.message.get("insuplc_admdvs") or "")
        )
        if not insuplc:
            raise BusinessError("E3001", psn_no=data["psn_no"])
        if insuplc[:2] != node.admdvs[:2] and node.faults.mutant("totals-not-forwarded"):
            with ctx.answer():
                ctx.output = {"cuminfo": []}
            return
        peer = node.insurer(insuplc)
        answer = await node.ask(peer, peer.request("Y5206", {"data": data}, insuplc_admdvs=insuplc))
        with ctx.answer():
            ctx.output = dict(answer["output"])
