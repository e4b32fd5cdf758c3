"""Admission at the insured location: the treatment side's notice of a registration (Y2401), checked
against card and insurance status and answered with the filing the care is under, and its cancellation
(Y2404)."""

from __future__ import annotations

from ..gateway import BusinessError, Context
from .records import Insured


class Admission:
    """The Y2401 and Y2404 handlers of one insured province."""

    def __init__(self, node: Insured) -> None:
        self.node = node
        self.handlers = {"Y2401": self.admit, "Y2404": self.cancel_admission}

    async def admit(self, ctx: Context) -> None:
        node = self.node
        info = ctx.input["mdtrtinfo"]
        person = node.person(info["psn_no"])
        if info["insutype"] != person.insutype:
            raise BusinessError("E3010", psn_no=person.psn_no, insutype=info["insutype"])
        with ctx.answer() as conn:
            _, doc = node.state(conn, person.psn_no)
            node.check_card(person, info, doc)
            if doc["insu_stas"] != "1" and not node.faults.mutant("ignore-suspended-insurance"):
                raise BusinessError("E3006", psn_no=person.psn_no)
            if node.store.q.insured_visit.first(conn, k_node=node.name, k_mdtrt_id=info["mdtrt_id"]):
                raise BusinessError("E4004", psn_no=person.psn_no, mdtrt_id=info["mdtrt_id"])
            try:  # admission does not need a filing: one may be made before discharge settlement
                filing = node.filing_for(
                    person, doc, info["mdtrtarea_admdvs"], ctx.now.date(), info["med_type"]
                )
            except BusinessError:
                filing = {}
            node.store.q.new_insured_visit.run(
                conn,
                node=node.name,
                mdtrt_id=info["mdtrt_id"],
                psn_no=person.psn_no,
                treatment=info["mdtrtarea_admdvs"][:2] + "0000",
                state="registered",
                doc={"fixmedins_code": info["fixmedins_code"], "med_type": info["med_type"]},
                sim_time=ctx.now,
            )
            ctx.effect = {"mdtrt_id": info["mdtrt_id"]}
            ctx.output = {
                "result": {
                    "mdtrt_id": info["mdtrt_id"],
                    "trt_dcla_detl_sn": filing.get("sn") or None,
                    "fil_type": filing.get("fil_type"),
                }
            }

    async def cancel_admission(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            visit = self.node.visit(conn, data["mdtrt_id"])
            if visit.state != "registered":
                raise BusinessError(
                    "E4002",
                    mdtrt_id=data["mdtrt_id"],
                    state=visit.state,
                    infno="Y2404",
                    name="跨省入院登记撤销",
                )
            self.node.set_visit(conn, data["mdtrt_id"], "cancelled")
