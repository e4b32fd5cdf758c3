"""Admission at the treatment location: registration (2401 inpatient, 2201 outpatient) and its
cancellation (2404/2202), changes to the visit (2403/2203), discharge (2402) and its cancellation (2405).

Registration tells the insured side (Y2401), which answers with the filing (备案) the care is under; a
cross-province patient with none is admitted with a warning, as direct settlement needs one by discharge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ..gateway import BusinessError, Context
from .visits import INPATIENT, KIND_OF, OUTPATIENT, Treatment, not_ahead, not_before_admission, step


class Admission:
    """The admission handlers of one treatment province."""

    def __init__(self, node: Treatment) -> None:
        self.node = node
        self.handlers = {
            "2403": self.change_visit,
            "2203": self.change_visit,
            "2402": self.discharge,
            "2405": self.cancel_discharge,
        }
        for kind in (INPATIENT, OUTPATIENT):
            self.handlers[kind.register] = self.register
            self.handlers[kind.cancel_registration] = self.cancel_registration

    def seen(self, conn: Connection, info: Mapping[str, Any]) -> dict[str, Any]:
        """The person as 1101 verified them; a card visit's card_sn must be that card's (R-CARD-01)."""
        node = self.node
        row = node.store.q.seen.first(conn, k_node=node.name, k_psn_no=info["psn_no"])
        doc = row.doc if row else None
        if doc is None:
            raise BusinessError("E3011", psn_no=info["psn_no"])
        card = doc.get("cardinfo") or {}
        if (
            info["mdtrt_cert_type"] == "03"
            and info.get("card_sn") not in (None, "", card.get("card_sn"))
            and not node.faults.mutant("skip-card-sn-check")
        ):
            raise BusinessError("E3007")
        return dict(doc)

    # ── 2401 / 2201 ────────────────────────────────────────────────

    async def register(self, ctx: Context) -> None:
        node = self.node
        kind = KIND_OF[ctx.infno]
        info = ctx.input["mdtrtinfo" if kind is INPATIENT else "data"]
        not_ahead(ctx, "mdtrtinfo" if kind is INPATIENT else "data", "begntime")
        insuplc = str(ctx.message["insuplc_admdvs"])
        hospital = node.hospital(ctx)
        peer = node.insurer(insuplc)
        cross = insuplc[:2] != node.admdvs[:2]
        unchecked = node.faults.mutant("allow-double-admission") or (
            not cross and node.faults.mutant("lifecycle-cross-province-only")
        )
        with ctx.work() as conn:
            if kind is INPATIENT and not unchecked:  # one stay at a time (an outpatient may have many)
                open_visit = node.in_hospital.visit(conn, info["psn_no"])
                if open_visit:
                    raise BusinessError("E4004", psn_no=info["psn_no"], mdtrt_id=open_visit)
            person = self.seen(conn, info)
        insuinfo = next((i for i in person["insuinfo"] if i["insutype"] == info["insutype"]), None)
        if insuinfo is None:
            raise BusinessError("E3010", psn_no=info["psn_no"], insutype=info["insutype"])
        mdtrt_id = node.new_id(ctx.now)
        med_type = info.get("med_type", "11")
        diagnosis = (info.get("dscg_maindiag_code") or "", info.get("dscg_maindiag_name") or "")
        notice = peer.request(
            "Y2401",
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": info["psn_no"],
                    "insutype": info["insutype"],
                    "med_type": med_type,
                    "begntime": info["begntime"],
                    "mdtrt_cert_type": info["mdtrt_cert_type"],
                    "mdtrt_cert_no": info["mdtrt_cert_no"],
                    "fixmedins_code": hospital.code,
                    "fixmedins_name": hospital.name,
                    "hosp_lv": hospital.hosp_lv,
                    "mdtrtarea_admdvs": hospital.admdvs,
                    "dscg_maindiag_code": diagnosis[0] or "Z00.000",
                    "dscg_maindiag_name": diagnosis[1] or "门诊就诊",
                }
            },
            insuplc_admdvs=insuplc,
        )
        if info["mdtrt_cert_type"] == "03":  # the card 1101 read (and, in V1.1, 2401 names again)
            notice["input"]["mdtrtinfo"]["card_sn"] = person.get("cardinfo", {}).get("card_sn", "")
        answer = await node.ask(peer, notice)
        filing = answer["output"]["result"]
        doc = {
            "person": {
                **person["baseinfo"],
                **insuinfo,
                "mdtrt_cert_type": info["mdtrt_cert_type"],
                "mdtrt_cert_no": info["mdtrt_cert_no"],
            },
            "med_type": med_type,
            "begntime": info["begntime"],
            "endtime": None,
            "ipt_otp_no": info.get("ipt_no") or info.get("ipt_otp_no"),
            "hospital": hospital.code,
            "hosp_lv": hospital.hosp_lv,
            "admdvs": hospital.admdvs,
            "history": [[ctx.infno, "none", "registered"]],
            "filing": filing,
            "registration": notice["msgid"],
        }
        with ctx.answer() as conn:
            node.store.q.new_visit.run(
                conn,
                node=node.name,
                mdtrt_id=mdtrt_id,
                psn_no=info["psn_no"],
                fixmedins_code=hospital.code,
                insuplc_admdvs=insuplc,
                kind=kind.machine,
                state="registered",
                version=0,
                cross=cross,
                doc=doc,
                sim_time=ctx.now,
            )
            if kind is INPATIENT:
                node.in_hospital.opened(conn, info["psn_no"], mdtrt_id)
                if unchecked:
                    node.in_hospital.admitted_twice()
            ctx.effect = {"mdtrt_id": mdtrt_id, "remote": notice["msgid"]}
            if cross and (not filing.get("fil_type") or node.faults.mutant("filed-warned-as-unfiled")):
                ctx.warn_msg = (
                    "该人员未办理异地就医备案或备案不适用于本地，出院结算前须办理备案，否则不能直接结算"
                )
            ctx.output = (
                {"result": {"mdtrt_id": mdtrt_id}}
                if kind is INPATIENT
                else {
                    "data": {"mdtrt_id": mdtrt_id, "psn_no": info["psn_no"], "ipt_otp_no": info["ipt_otp_no"]}
                }
            )

    # ── 2404 / 2202 ────────────────────────────────────────────────

    async def cancel_registration(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        with ctx.work() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"], fees=True)
            skip = bool(visit.live_fees()) and (  # R-LIFE-02
                node.faults.mutant("cancel-admission-with-fees")
                or (not visit.cross and node.faults.mutant("lifecycle-cross-province-only"))
            )
            after = "cancelled" if skip else step(node.spec, visit, ctx.infno)
        peer = node.insurer(visit.insuplc_admdvs)
        await node.ask(
            peer,
            peer.request(
                "Y2404",
                {"data": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no}},
                insuplc_admdvs=visit.insuplc_admdvs,
            ),
        )
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"])
            node.save(conn, visit, after, ctx.infno)

    # ── 2403 / 2203, 2402, 2405 ────────────────────────────────────

    async def change_visit(self, ctx: Context) -> None:
        node, info = self.node, ctx.input["adminfo" if ctx.infno == "2403" else "mdtrtinfo"]
        not_ahead(ctx, "adminfo" if ctx.infno == "2403" else "mdtrtinfo", "begntime", "endtime")
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, info["mdtrt_id"])
            after = step(node.spec, visit, ctx.infno)
            visit.doc["changes"] = [
                *visit.doc.get("changes", []),
                {k: v for k, v in info.items() if v not in (None, "")},
            ]
            node.save(conn, visit, after, ctx.infno)

    async def discharge(self, ctx: Context) -> None:
        node, info = self.node, ctx.input["dscginfo"]
        not_ahead(ctx, "dscginfo", "endtime")
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, info["mdtrt_id"])
            node.same_person(visit, info.get("psn_no"))
            after = step(node.spec, visit, ctx.infno)
            not_before_admission(ctx, "dscginfo", "endtime", visit)
            visit.doc["endtime"] = info["endtime"]
            visit.doc["discharge"] = {"dscg_way": info["dscg_way"], "dscg_dept_name": info["dscg_dept_name"]}
            node.save(conn, visit, after, ctx.infno)

    async def cancel_discharge(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"])
            after = (
                visit.state
                if node.faults.mutant("cancel-discharge-noop")
                else step(node.spec, visit, ctx.infno)
            )
            visit.doc["endtime"] = None
            node.save(conn, visit, after, ctx.infno)
