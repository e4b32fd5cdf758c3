"""Settlement at the treatment location: 2303/2206 pre-settlement, 2304/2207 settlement, 2305/2208 its
cancellation, 2601 reversal, and the recovery of claims left behind.

Only category totals cross to the insured side (实时传大类): totals per 医疗收费项目类别 and the four policy
ranges, never the items. A settlement, cancellation or reversal is claimed first (the visit's transient
state records the pending call), then sent, then committed with its answer: a refusal releases the claim,
an unknown outcome is reversed remotely, and what a crash leaves behind :meth:`Settlement.recover` reverses.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from ...specs.envelope import datetime_text
from ...specs.money import ZERO, cents, wire, yuan
from ..catalog import Split, categories
from ..gateway import BusinessError, Context, Relayed
from ..insured.settlement import negate
from ..links import Peer, Unreachable
from ..store import visits
from .visits import INPATIENT, OUTPATIENT, TRANSIENT, Treatment, Visit, log, step

# the insured side's transaction a reversal of the hospital's one reverses
REMOTE_INFNO = {
    "2401": "Y2401",
    "2201": "Y2401",
    "2304": "Y2304",
    "2207": "Y2304",
    "2305": "Y2305",
    "2208": "Y2305",
}


class Settlement:
    """The settlement, cancellation and reversal handlers of one treatment province, and its recovery."""

    def __init__(self, node: Treatment) -> None:
        self.node = node
        self.handlers = {"2601": self.reverse}
        for kind in (INPATIENT, OUTPATIENT):
            self.handlers[kind.presettle] = self.presettle
            self.handlers[kind.settle] = self.settle
            self.handlers[kind.cancel_settlement] = self.cancel_settlement

    # ── what crosses to the insured side ───────────────────────────

    def totals(self, visit: Visit, data: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], Split]:
        """The fees a settlement covers, checked against what the hospital says they add up to."""
        fees = visit.live_fees(data.get("chrg_bchno") if visit.kind is OUTPATIENT else None)
        split = sum((Split(*(Decimal(x) for x in f["split"])) for f in fees.values()), Split())
        total = sum((yuan(f["amount"]) for f in fees.values()), ZERO)
        if yuan(data["medfee_sumamt"]) != total and not self.node.faults.mutant("skip-fee-total-check"):
            raise BusinessError("E5002", medfee_sumamt=data["medfee_sumamt"], uploaded=f"{total}")
        given = [
            data.get(k) for k in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
        ]
        if all(g not in (None, "") for g in given):
            claimed = Split(*(yuan(g) for g in given))
            if claimed != split:
                raise BusinessError(
                    "E5001",
                    rule="R-AMT-07",
                    detail=(
                        f"分项与费用明细分割结果不符：上传{claimed.fulamt_ownpay}/{claimed.overlmt}/{claimed.preselfpay}/"
                        f"{claimed.inscp}，明细{split.fulamt_ownpay}/{split.overlmt}/{split.preselfpay}/{split.inscp}"
                    ),
                )
        return fees, split

    def claim_request(
        self,
        peer: Peer,
        visit: Visit,
        data: Mapping[str, Any],
        fees: Mapping[str, dict[str, Any]],
        split: Split,
        infno: str,
        setl_id: str | None,
        medins_setl_id: str | None,
    ) -> dict[str, Any]:
        """Y2303/Y2304: totals per 医疗收费项目类别, never the items (实时传大类)."""
        cats = categories((f["type"], Split(*(Decimal(x) for x in f["split"]))) for f in fees.values())
        setlinfo = {
            "mdtrt_id": visit.mdtrt_id,
            "psn_no": visit.psn_no,
            "insutype": data["insutype"],
            "med_type": data.get("med_type") or visit.doc["med_type"],
            "begntime": visit.doc["begntime"],
            "endtime": visit.doc.get("endtime"),
            "fixmedins_code": visit.fixmedins_code,
            "fixmedins_name": self.node.province.hospitals[visit.fixmedins_code].name,
            "hosp_lv": visit.doc["hosp_lv"],
            "mdtrtarea_admdvs": visit.doc["admdvs"],
            "psn_setlway": data["psn_setlway"],
            "acct_used_flag": data.get("acct_used_flag") or "0",
            "mid_setl_flag": data.get("mid_setl_flag") or "0",
            "medfee_sumamt": wire(split.total),
            "fulamt_ownpay_amt": wire(split.fulamt_ownpay),
            "overlmt_selfpay": wire(split.overlmt),
            "preselfpay_amt": wire(split.preselfpay),
            "inscp_scp_amt": wire(split.inscp),
            **({"setl_id": setl_id, "medins_setl_id": medins_setl_id} if setl_id else {}),
        }
        feecate = [
            {
                "med_chrgitm_type": t,
                "det_item_fee_sumamt": wire(s.total),
                "fulamt_ownpay_amt": wire(s.fulamt_ownpay),
                "overlmt_amt": wire(s.overlmt),
                "preselfpay_amt": wire(s.preselfpay),
                "inscp_scp_amt": wire(s.inscp),
            }
            for t, s in cats.items()
        ]
        return peer.request(
            infno, {"setlinfo": setlinfo, "feecate": feecate}, insuplc_admdvs=visit.insuplc_admdvs
        )

    def local_output(self, output: Mapping[str, Any], visit: Visit, ctx: Context) -> dict[str, Any]:
        """The insured side's answer as the hospital receives it: its own msgid as medins_setl_id."""
        setlinfo = {
            **output["setlinfo"],
            "mdtrt_cert_type": visit.doc["person"]["mdtrt_cert_type"],
            "clr_optins": self.node.admdvs,
            "medins_setl_id": ctx.msgid,
        }
        return {"setlinfo": setlinfo, "setldetail": output["setldetail"]}

    # ── 2303 / 2206 ────────────────────────────────────────────────

    async def presettle(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        with ctx.work() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"], fees=True)
            node.same_person(visit, data.get("psn_no"))
            after = step(node.spec, visit, ctx.infno)
            fees, split = self.totals(visit, data)
        peer = node.insurer(visit.insuplc_admdvs)
        answer = await node.ask(peer, self.claim_request(peer, visit, data, fees, split, "Y2303", None, None))
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"])
            visit.doc["presettlement"] = answer["output"]["setlinfo"]
            node.save(conn, visit, after, ctx.infno)
            ctx.output = self.local_output(answer["output"], visit, ctx)

    # ── 2304 / 2207 ────────────────────────────────────────────────

    async def settle(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        setl_id = node.new_id(ctx.now)
        mid = data.get("mid_setl_flag") == "1" and not node.faults.mutant("refuse-mid-settlement")

        def check(conn: Connection, visit: Visit) -> dict[str, Any]:
            node.same_person(visit, data.get("psn_no"))
            after = step(
                node.spec, visit, ctx.infno, mid_setl=mid or node.faults.mutant("settle-without-discharge")
            )
            node.load_fees(conn, visit)
            fees, split = self.totals(visit, data)
            peer = node.insurer(visit.insuplc_admdvs)
            request = self.claim_request(peer, visit, data, fees, split, "Y2304", setl_id, ctx.msgid)
            return {
                "after": after,
                "peer": peer,
                "request": request,
                "fees": fees,
                "pending": {"remote": request["msgid"], "oinfno": "Y2304", "setl_id": setl_id},
            }

        with node.in_flight(data["mdtrt_id"]):
            visit, p = node.claim(ctx, data["mdtrt_id"], "settling", check)
            answer = await self.settle_remotely(ctx, visit, p["peer"], p["request"])
            self.finish_settlement(ctx, data, p, answer, setl_id)

    def finish_settlement(
        self,
        ctx: Context,
        data: Mapping[str, Any],
        p: Mapping[str, Any],
        answer: Mapping[str, Any],
        setl_id: str,
    ) -> None:
        with ctx.answer() as conn:
            visit = self.node.load(conn, ctx, data["mdtrt_id"], fees=True)
            output = self.local_output(answer["output"], visit, ctx)
            lines = visit.change_fees()
            for sn in p["fees"]:
                lines[sn]["setl_id"] = setl_id
            visit.doc["settlement"] = {
                "setl_id": setl_id,
                "msgid": ctx.msgid,
                "remote": p["request"]["msgid"],
            }
            self.book(conn, ctx, visit, "settle", setl_id, output)
            self.node.save(conn, visit, p["after"], ctx.infno)
            ctx.effect = {"setl_id": setl_id, "mdtrt_id": visit.mdtrt_id, "remote": p["request"]["msgid"]}
            ctx.output = output

    async def settle_remotely(
        self, ctx: Context, visit: Visit, peer: Peer, request: dict[str, Any]
    ) -> dict[str, Any]:
        """Send a claimed call; on failure undo the claim (reversing remotely when the outcome is unknown)."""
        node = self.node
        try:
            return await node.ask(peer, request)
        except Relayed as e:
            if e.infcode == -1:
                await node.undo_remote(
                    peer, visit.insuplc_admdvs, visit.psn_no, request["msgid"], request["infno"]
                )
            if not node.faults.mutant("keep-claim-after-refusal"):
                node.release(ctx, visit)
            raise
        except BusinessError as refusal:
            try:
                await node.undo_remote(
                    peer, visit.insuplc_admdvs, visit.psn_no, request["msgid"], request["infno"]
                )
            except Unreachable:
                raise refusal from None  # the claim stays: recovery reverses it when the insured side is back
            node.release(ctx, visit)
            raise

    def book(
        self,
        conn: Connection,
        ctx: Context,
        visit: Visit,
        kind: str,
        setl_id: str,
        output: Mapping[str, Any],
        status: str = "active",
    ) -> None:
        s = output["setlinfo"]
        if kind == "settle":  # the items follow after the fact (事后传明细): an outbox the sender empties
            output = {**output, "details": "pending"}
        self.node.store.q.book.run(
            conn,
            node=self.node.name,
            msgid=ctx.msgid,
            setl_id=setl_id,
            kind=kind,
            mdtrt_id=visit.mdtrt_id,
            psn_no=visit.psn_no,
            fixmedins_code=visit.fixmedins_code,
            insuplc_admdvs=visit.insuplc_admdvs,
            infno=ctx.infno,
            medfee=cents(s["medfee_sumamt"]),
            fund=cents(s["fund_pay_sumamt"]),
            acct=cents(s["acct_pay"]),
            cash=cents(s.get("psn_cash_pay") or s.get("pdn_cash_pay") or 0),
            status=status,
            cross=visit.cross,
            doc=dict(output),
            sim_time=ctx.now,
        )

    # ── 2305 / 2208 ────────────────────────────────────────────────

    def booked(self, conn: Connection, msgid: str) -> Any:
        """The book's entry of the settlement (or its cancellation) the message ``msgid`` made."""
        row = self.node.store.q.settlement.first(conn, k_node=self.node.name, k_msgid=msgid)
        assert row is not None, msgid  # a message answered with a settlement booked it
        return row

    def active_settlement(self, conn: Connection, visit: Visit, setl_id: str) -> Any:
        row = self.node.store.q.in_force.first(
            conn, k_node=self.node.name, k_setl_id=setl_id, k_kind="settle", k_status="active"
        )
        if row is None or row.mdtrt_id != visit.mdtrt_id:
            raise BusinessError("E4005", setl_id=setl_id, mdtrt_id=visit.mdtrt_id)
        return row

    async def cancel_settlement(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]

        def check(conn: Connection, visit: Visit) -> dict[str, Any]:
            node.same_person(visit, data.get("psn_no"))
            after = step(node.spec, visit, ctx.infno)
            row = self.active_settlement(conn, visit, data["setl_id"])
            peer = node.insurer(visit.insuplc_admdvs)
            request = peer.request(
                "Y2305",
                {"data": {"mdtrt_id": visit.mdtrt_id, "setl_id": row.setl_id, "psn_no": visit.psn_no}},
                insuplc_admdvs=visit.insuplc_admdvs,
            )
            return {
                "after": after,
                "peer": peer,
                "request": request,
                "original": row,  # as it stays: the visit is claimed until the cancellation is booked
                "pending": {"remote": request["msgid"], "oinfno": "Y2305", "setl_id": row.setl_id},
            }

        with node.in_flight(data["mdtrt_id"]):
            visit, p = node.claim(ctx, data["mdtrt_id"], "cancelling", check)
            answer = await self.settle_remotely(ctx, visit, p["peer"], p["request"])
            self.finish_cancellation(ctx, data, p, answer)

    def finish_cancellation(
        self, ctx: Context, data: Mapping[str, Any], p: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> None:
        node, q = self.node, self.node.store.q
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"], fees=True)
            original = p["original"]
            negative = negate(node.spec, original.doc)
            negative["setlinfo"].update(
                setl_time=datetime_text(ctx.now), balc=answer["output"]["setlinfo"].get("balc", 0.0)
            )
            q.set_settlement.run(conn, k_node=node.name, k_msgid=original.msgid, status="cancelled")
            self.book(conn, ctx, visit, "cancel", original.setl_id, negative)
            for f in visit.change_fees().values():
                if f.get("setl_id") == original.setl_id:
                    del f["setl_id"]
            visit.doc.pop("settlement", None)
            node.save(conn, visit, p["after"], ctx.infno)
            ctx.effect = {
                "setl_id": original.setl_id,
                "of": original.msgid,
                "remote": p["request"]["msgid"],
                "mdtrt_id": visit.mdtrt_id,
            }
            fields = node.spec.transaction(ctx.infno).output["setlinfo"].fields
            ctx.output = {
                "setlinfo": {k: v for k, v in negative["setlinfo"].items() if k in fields},
                "setldetail": negative["setldetail"],
            }

    # ── 2601 ───────────────────────────────────────────────────────

    async def reverse(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        oinfno, omsgid = data["oinfno"], data["omsgid"]
        with ctx.work() as conn:
            original = node.store.q.answered.first(conn, k_node=node.name, k_msgid=omsgid)
        if original is None and node.faults.mutant("reversal-of-unknown-succeeds"):
            with ctx.answer():
                return
        if original is None or original.infno != oinfno or original.response.get("infcode") not in (0, "0"):
            raise BusinessError("E6002", oinfno=oinfno, omsgid=omsgid)
        if not node.spec.transaction(oinfno).reversible:
            raise BusinessError("E6003", oinfno=oinfno)
        if original.reversed_by:
            raise BusinessError("E6004", omsgid=omsgid)
        if node.faults.mutant("reversal-changes-nothing"):
            with ctx.answer():
                return
        effect = original.effect
        remote_infno = REMOTE_INFNO[oinfno]

        def check(conn: Connection, visit: Visit) -> dict[str, Any]:
            after = step(node.spec, visit, ctx.infno, reverse=oinfno)
            return {
                "after": after,
                "pending": {
                    "remote": effect["remote"],
                    "oinfno": remote_infno,
                    "reversal": not node.faults.mutant("recovery-reverses-stranded-reversal"),
                },
            }

        with node.in_flight(effect["mdtrt_id"]):
            visit, p = node.claim(ctx, effect["mdtrt_id"], "reversing", check)
            peer = node.insurer(visit.insuplc_admdvs)
            await self.settle_remotely(
                ctx,
                visit,
                peer,
                peer.request(
                    "Y2601",
                    {"data": {"psn_no": visit.psn_no, "omsgid": effect["remote"], "oinfno": remote_infno}},
                    insuplc_admdvs=visit.insuplc_admdvs,
                ),
            )
            self.finish_reversal(ctx, oinfno, omsgid, effect, p)

    def finish_reversal(
        self, ctx: Context, oinfno: str, omsgid: str, effect: Mapping[str, Any], p: Mapping[str, Any]
    ) -> None:
        node, q = self.node, self.node.store.q
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, effect["mdtrt_id"])
            if oinfno in ("2304", "2207"):
                row = self.booked(conn, omsgid)
                q.set_settlement.run(conn, k_node=node.name, k_msgid=omsgid, status="reversed")
                self.book(conn, ctx, visit, "reversal", row.setl_id, negate(node.spec, row.doc))
                visit.doc.pop("settlement", None)
            elif oinfno in ("2305", "2208"):
                q.set_settlement.run(conn, k_node=node.name, k_msgid=omsgid, status="reversed")
                q.set_settlement.run(conn, k_node=node.name, k_msgid=effect["of"], status="active")
            node.save(conn, visit, p["after"], ctx.infno)
            q.reversed_by.run(conn, k_node=node.name, k_msgid=omsgid, reversed_by=ctx.msgid)

    # ── recovery ───────────────────────────────────────────────────

    async def recover(self) -> int:
        """Reverse every claim left behind by a crash or an unreachable insured side (a visit still
        settling, cancelling or reversing whose call is not under way); what cannot be reached yet is
        tried again next time."""
        node = self.node
        if node.faults.mutant("no-claim-recovery"):
            return 0
        with node.store.begin() as conn:
            stuck = [
                Visit(r)
                for r in conn.execute(
                    select(visits).where(visits.c.node == node.name, visits.c.state.in_(TRANSIENT))
                )
                if r.mdtrt_id not in node.inflight
            ]
        recovered = 0
        for visit in stuck:
            pending = visit.doc.get("pending", {})
            peer = node.insurer(visit.insuplc_admdvs)
            try:
                if pending.get("remote") and not pending.get("reversal"):
                    await node.undo_remote(
                        peer, visit.insuplc_admdvs, visit.psn_no, pending["remote"], pending["oinfno"]
                    )
            except Unreachable:
                continue
            recovered += 1
            with node.store.begin() as conn:
                row = conn.execute(
                    select(visits).where(visits.c.node == node.name, visits.c.mdtrt_id == visit.mdtrt_id)
                ).one()
                fresh = Visit(row)
                before = fresh.doc.get("pending", {}).get("before", fresh.state)
                node.save(conn, fresh, before)
            log.warning("%s: recovered %s from %s to %s", node.name, visit.mdtrt_id, visit.state, before)
        return recovered
