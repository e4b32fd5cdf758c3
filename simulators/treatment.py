"""The treatment location (就医地): the hospital-facing interface of a provincial platform.

It classifies every fee line with its own catalog (就医地目录), keeps the visits and their fee details,
and settles through the insured location with category totals only (实时传大类): in-process for its
own insured, through the national hub for everyone else. Item details follow after the fact
(事后传明细). Inpatient (23xx/24xx) and outpatient (22xx) visits share one code path.

A settlement across nodes is claimed first (the visit moves to a transient state that records the
pending call), then sent, then committed with its answer. A crash or an unanswered call leaves a claim
that recovery reverses (Y2601), so nothing is half-done and nothing is paid twice.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from ..specs import lifecycle
from ..specs.envelope import datetime_text, stamp
from ..specs.model import Machine, Spec
from ..specs.money import ZERO, cents, wire, yuan
from ..world.topology import Account, CatalogEntry, Hospital, Item, Province
from .catalog import Split, categories, classify, result_line
from .gateway import BusinessError, Context, Node, Relayed, World
from .insured import InsuredNode, negate
from .links import Peer, Serials, Unreachable
from .reconcile import Reconciliation
from .remote import RemoteClearing
from .store import message_key, messages, settlements, signin_key, signins, visits

log = logging.getLogger("yidi.simulators")

TRANSIENT = frozenset({"settling", "cancelling", "reversing"})
OPEN = ("registered", "fees_uploaded", "presettled", "discharged", *TRANSIENT)


@dataclass(frozen=True)
class Kind:
    """What differs between an inpatient and an outpatient visit."""

    machine: str
    register: str
    cancel_registration: str
    fees: str
    cancel_fees: str
    presettle: str
    settle: str
    cancel_settlement: str


INPATIENT = Kind("inpatient", "2401", "2404", "2301", "2302", "2303", "2304", "2305")
OUTPATIENT = Kind("outpatient", "2201", "2202", "2204", "2205", "2206", "2207", "2208")
KIND_OF = {
    infno: kind for kind in (INPATIENT, OUTPATIENT) for infno in vars(kind).values() if infno.isdigit()
}


class Visit:
    """A visit row loaded for change: its state, document and version."""

    def __init__(self, row: Any) -> None:
        self.mdtrt_id, self.psn_no, self.state, self.version = (
            row.mdtrt_id,
            row.psn_no,
            row.state,
            row.version,
        )
        self.fixmedins_code, self.insuplc_admdvs, self.cross = (
            row.fixmedins_code,
            row.insuplc_admdvs,
            row.cross,
        )
        self.kind = INPATIENT if row.kind == "inpatient" else OUTPATIENT
        self.doc: dict[str, Any] = dict(row.doc)

    @property
    def history(self) -> list[lifecycle.Step]:
        return [lifecycle.Step(*step) for step in self.doc["history"]]

    def live_fees(self, batch: str | None = None) -> dict[str, dict[str, Any]]:
        return {
            sn: f
            for sn, f in self.doc["fees"].items()
            if f["status"] == "active" and batch in (None, f.get("batch"))
        }


class TreatmentNode(Node):
    hospital_facing = True

    def __init__(self, province: Province, world: World, wire: Spec, insured: InsuredNode) -> None:
        accounts: dict[str, Account] = {h.paasid: h.account for h in province.hospitals.values()}
        super().__init__(f"treatment:{province.admdvs}", province.admdvs, world, accounts, wire)
        self.province, self.topology, self.insured = province, world.topology, insured
        self.ids = Serials(self.store, self.name)
        self.own: Peer | None = None  # the province's own insured face, in-process
        self.hub: Peer | None = None
        self.inflight: set[str] = set()  # visits whose claimed call is under way: recovery leaves them alone
        for infno, handler in {
            "9001": self.sign_in,
            "9002": self.sign_out,
            "1101": self.person_info,
            "2601": self.reverse,
            "5203": self.query_settlement,
            "5204": self.query_fees,
            "5303": self.query_in_hospital,
        }.items():
            self.handlers[infno] = handler
        self.handlers |= RemoteClearing(self).handlers  # 3260–3262
        self.handlers |= Reconciliation(self).handlers  # 3201, 3202, 9101, 9102
        for kind in (INPATIENT, OUTPATIENT):
            self.handlers[kind.register] = self.register
            self.handlers[kind.cancel_registration] = self.cancel_registration
            self.handlers[kind.fees] = self.upload_fees
            self.handlers[kind.cancel_fees] = self.cancel_fees
            self.handlers[kind.presettle] = self.presettle
            self.handlers[kind.settle] = self.settle
            self.handlers[kind.cancel_settlement] = self.cancel_settlement
        self.handlers.update(
            {
                "2403": self.change_visit,
                "2203": self.change_visit,
                "2402": self.discharge,
                "2405": self.cancel_discharge,
            }
        )

    # ── helpers ────────────────────────────────────────────────────

    def respond(self, infno: str | None, infcode: int, **kw: Any) -> dict[str, Any]:
        body = super().respond(infno, infcode, **kw)  # checked against the spec before it may leave
        spoil = SPOILED.get(infno or "")
        if spoil and isinstance(body.get("output"), dict) and self.faults.mutant(spoil[0]):
            body = {**body, "output": spoil[1](copy.deepcopy(body["output"]))}  # past the check
        return body

    def new_id(self, now: datetime) -> str:
        return f"{self.admdvs}{stamp(now)}{self.ids():010d}"

    def insurer(self, insuplc_admdvs: str) -> Peer:
        if insuplc_admdvs[:2] == self.admdvs[:2]:
            assert self.own is not None
            return self.own
        if self.topology.province_of(insuplc_admdvs) is None and self.hub is None:
            raise BusinessError("E6007", insuplc=insuplc_admdvs)
        assert self.hub is not None
        return self.hub

    async def ask(self, peer: Peer, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send to the insured side; refusals reach the hospital as they came, silence as -1."""
        try:
            answer = await peer.send(message)
        except Unreachable as e:
            log.warning("%s: %s", self.name, e)
            raise BusinessError(
                "E6008" if peer is self.hub else "E6006", insuplc=str(message.get("insuplc_admdvs"))
            ) from e
        if answer.get("infcode") not in (0, "0"):
            raise Relayed(answer)
        return answer

    def hospital(self, ctx: Context) -> Hospital:
        return self.province.hospitals[str(ctx.message["fixmedins_code"])]

    def machine(self, kind: Kind) -> Machine:
        return self.spec.machines[kind.machine]

    def load(self, conn: Connection, ctx: Context, mdtrt_id: str) -> Visit:
        row = self.store.q.visit.first(conn, k_node=self.name, k_mdtrt_id=mdtrt_id)
        if row is None:
            raise BusinessError("E4001", mdtrt_id=mdtrt_id)
        if row.fixmedins_code != ctx.message["fixmedins_code"] and not self.faults.mutant(
            "other-hospitals-visits"
        ):
            raise BusinessError("E2007", fixmedins_code=ctx.message["fixmedins_code"], mdtrt_id=mdtrt_id)
        return Visit(row)

    def step(self, visit: Visit, infno: str, *, reverse: str | None = None, **guards: bool) -> str:
        """The state after ``infno`` (or after reversing ``reverse``), or the life-cycle's refusal."""
        machine = self.machine(visit.kind)
        state = (
            visit.doc.get("pending", {}).get("before", visit.state)
            if visit.state in TRANSIENT
            else visit.state
        )
        try:
            if reverse:
                return lifecycle.reverse(machine, state, reverse, history=visit.history)
            return lifecycle.next_state(machine, state, infno, guards=guards, history=visit.history)
        except lifecycle.LifecycleError as e:
            names = self.spec.transactions
            raise BusinessError(
                e.error,
                mdtrt_id=visit.mdtrt_id,
                state=machine.states[state][0],
                infno=infno,
                name=names[infno].zh if infno in names else infno,
                feedetl_sn="",
                init_feedetl_sn="",
            ) from e

    def save(self, conn: Connection, visit: Visit, state: str, infno: str | None = None) -> None:
        """Write the visit back if nobody else changed it meanwhile (R-CONC-01). Leaving a transient
        state consumes its claim; the history records the state the visit had before the claim."""
        before = visit.state
        if visit.state in TRANSIENT and state not in TRANSIENT:
            before = visit.doc.pop("pending", {}).get("before", visit.state)
        if infno:
            visit.doc["history"].append([infno, before, state])
        done = self.store.q.save_visit.run(
            conn,
            state=state,
            version=visit.version + 1,
            doc=visit.doc,
            k_node=self.name,
            k_mdtrt_id=visit.mdtrt_id,
            k_version=visit.version,
        )
        if done != 1:
            raise BusinessError("E6005", mdtrt_id=visit.mdtrt_id)
        visit.state, visit.version = state, visit.version + 1

    @contextmanager
    def in_flight(self, mdtrt_id: str) -> Iterator[None]:
        self.inflight.add(mdtrt_id)
        try:
            yield
        finally:
            self.inflight.discard(mdtrt_id)

    def claim(self, ctx: Context, mdtrt_id: str, transient: str, check: Any) -> tuple[Visit, Any]:
        """Move a visit into a transient state before calling another node; concurrent claims lose."""
        with ctx.work() as conn:
            visit = self.load(conn, ctx, mdtrt_id)
            if visit.state in TRANSIENT and not self.faults.mutant("no-settlement-lock"):
                raise BusinessError("E6005", mdtrt_id=mdtrt_id)
            prepared = check(conn, visit)
            visit.doc["pending"] = {"before": visit.state, **prepared.get("pending", {})}
            self.save(conn, visit, transient)
        return visit, prepared

    def release(self, ctx: Context, visit: Visit) -> None:
        """Undo a claim after a refusal: the visit returns to where it was."""
        with ctx.work() as conn:
            fresh = self.load(conn, ctx, visit.mdtrt_id)
            self.save(conn, fresh, fresh.doc.get("pending", {}).get("before", fresh.state))

    async def undo_remote(self, peer: Peer, insuplc: str, psn_no: str, msgid: str, oinfno: str) -> None:
        """Best effort: reverse a call whose outcome is unknown (Y2601); 'nothing to reverse' is fine."""
        try:
            answer = await peer.call(
                "Y2601",
                {"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": oinfno}},
                insuplc_admdvs=insuplc,
            )
            if answer.get("infcode") not in (0, "0") and "E6002" not in str(answer.get("err_msg")):
                log.warning(
                    "%s: reversal of %s %s answered %s", self.name, oinfno, msgid, answer.get("err_msg")
                )
        except Unreachable as e:
            log.warning("%s: reversal of %s %s unreachable: %s", self.name, oinfno, msgid, e)
            raise

    # ── 9001 / 9002 ────────────────────────────────────────────────

    async def sign_in(self, ctx: Context) -> None:
        data = ctx.input["signIn"]
        sign_no = self.new_id(ctx.now)
        with ctx.answer() as conn:
            self.store.q.sign_in.run(
                conn,
                node=self.name,
                sign_no=sign_no,
                fixmedins_code=ctx.account.code,
                opter_no=data["opter_no"],
                signed_out=False,
                sim_time=ctx.now,
            )
            ctx.output = {"signinoutb": {"sign_time": datetime_text(ctx.now), "sign_no": sign_no}}

    async def sign_out(self, ctx: Context) -> None:
        data = ctx.input["signOut"]
        with ctx.answer() as conn:
            done = conn.execute(
                update(signins)
                .where(
                    signin_key.is_(self.name, data["sign_no"]), signins.c.fixmedins_code == ctx.account.code
                )
                .values(signed_out=True)
            )
            if done.rowcount != 1:
                raise BusinessError("E2006")
            ctx.output = {"signoutoutb": {"sign_time": datetime_text(ctx.now)}}

    # ── 1101 ───────────────────────────────────────────────────────

    def peer_for_credential(self, data: Mapping[str, Any]) -> Peer:
        try:
            self.insured.by_credential(data)
        except BusinessError:
            return self.insurer("000000")  # not ours: the hub finds the insured province
        return self.insurer(self.admdvs)

    async def lookup(self, ctx: Context, data: Mapping[str, Any]) -> dict[str, Any]:
        """The person behind a credential, from the insured side (Y1101)."""
        peer = self.peer_for_credential(data)
        query = {
            k: data.get(k)
            for k in (
                "mdtrt_cert_type",
                "mdtrt_cert_no",
                "card_sn",
                "psn_cert_type",
                "certno",
                "psn_name",
                "begntime",
            )
            if data.get(k) not in (None, "")
        }
        query.update(mdtrtarea_admdvs=self.hospital(ctx).admdvs, fixmedins_code=ctx.account.code)
        answer = await self.ask(peer, peer.request("Y1101", {"data": query}))
        return dict(answer["output"])

    async def person_info(self, ctx: Context) -> None:
        output = await self.lookup(ctx, ctx.input["data"])
        psn_no = output["baseinfo"]["psn_no"]
        with ctx.answer() as conn:
            self.store.q.unsee.run(conn, k_node=self.name, k_psn_no=psn_no)
            self.store.q.see.run(conn, node=self.name, psn_no=psn_no, doc=output, sim_time=ctx.now)
            ctx.output = {k: output[k] for k in ("baseinfo", "insuinfo", "idetinfo") if k in output}

    def seen(self, conn: Connection, info: Mapping[str, Any]) -> dict[str, Any]:
        """The person as 1101 verified them; a card visit's card_sn must be that card's (R-CARD-01)."""
        row = self.store.q.seen.first(conn, k_node=self.name, k_psn_no=info["psn_no"])
        doc = row.doc if row else None
        if doc is None:
            raise BusinessError("E3011", psn_no=info["psn_no"])
        card = doc.get("cardinfo") or {}
        if (
            info["mdtrt_cert_type"] == "03"
            and info.get("card_sn") not in (None, "", card.get("card_sn"))
            and not self.faults.mutant("skip-card-sn-check")
        ):
            raise BusinessError("E3007")
        return dict(doc)

    # ── registration: 2401 / 2201 ──────────────────────────────────

    async def register(self, ctx: Context) -> None:
        kind = KIND_OF[ctx.infno]
        info = ctx.input["mdtrtinfo" if kind is INPATIENT else "data"]
        insuplc = str(ctx.message["insuplc_admdvs"])
        hospital = self.hospital(ctx)
        peer = self.insurer(insuplc)
        with ctx.work() as conn:
            open_visit = conn.execute(
                select(visits.c.mdtrt_id).where(
                    visits.c.node == self.name,
                    visits.c.psn_no == info["psn_no"],
                    visits.c.kind == kind.machine,
                    visits.c.state.in_(OPEN),
                )
            ).scalar()
            if kind is INPATIENT and open_visit and not self.faults.mutant("allow-double-admission"):
                raise BusinessError("E4004", psn_no=info["psn_no"], mdtrt_id=open_visit)
            person = self.seen(conn, info)
        insuinfo = next((i for i in person["insuinfo"] if i["insutype"] == info["insutype"]), None)
        if insuinfo is None:
            raise BusinessError("E3010", psn_no=info["psn_no"], insutype=info["insutype"])
        mdtrt_id = self.new_id(ctx.now)
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
        answer = await self.ask(peer, notice)
        filing = answer["output"]["result"]
        cross = insuplc[:2] != self.admdvs[:2]
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
            "fees": {},
            "history": [[ctx.infno, "none", "registered"]],
            "filing": filing,
            "registration": notice["msgid"],
        }
        with ctx.answer() as conn:
            self.store.q.new_visit.run(
                conn,
                node=self.name,
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
            ctx.effect = {"mdtrt_id": mdtrt_id, "remote": notice["msgid"]}
            if cross and (not filing.get("fil_type") or self.faults.mutant("filed-warned-as-unfiled")):
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

    async def cancel_registration(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.work() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            skip = bool(visit.live_fees()) and self.faults.mutant("cancel-admission-with-fees")  # R-LIFE-02
            after = "cancelled" if skip else self.step(visit, ctx.infno)
        peer = self.insurer(visit.insuplc_admdvs)
        await self.ask(
            peer,
            peer.request(
                "Y2404",
                {"data": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no}},
                insuplc_admdvs=visit.insuplc_admdvs,
            ),
        )
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            self.save(conn, visit, after, ctx.infno)

    async def change_visit(self, ctx: Context) -> None:
        node = ctx.input["adminfo" if ctx.infno == "2403" else "mdtrtinfo"]
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, node["mdtrt_id"])
            after = self.step(visit, ctx.infno)
            visit.doc["changes"] = [
                *visit.doc.get("changes", []),
                {k: v for k, v in node.items() if v not in (None, "")},
            ]
            self.save(conn, visit, after, ctx.infno)

    async def discharge(self, ctx: Context) -> None:
        info = ctx.input["dscginfo"]
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, info["mdtrt_id"])
            after = self.step(visit, ctx.infno)
            visit.doc["endtime"] = info["endtime"]
            visit.doc["discharge"] = {"dscg_way": info["dscg_way"], "dscg_dept_name": info["dscg_dept_name"]}
            self.save(conn, visit, after, ctx.infno)

    async def cancel_discharge(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            after = (
                visit.state if self.faults.mutant("cancel-discharge-noop") else self.step(visit, ctx.infno)
            )
            visit.doc["endtime"] = None
            self.save(conn, visit, after, ctx.infno)

    # ── fees: 2301 / 2204, 2302 / 2205 ─────────────────────────────

    async def upload_fees(self, ctx: Context) -> None:
        lines = ctx.input["feedetail"]
        mdtrt_ids = {line["mdtrt_id"] for line in lines}
        if len(mdtrt_ids) != 1:
            raise BusinessError("E4001", mdtrt_id="、".join(sorted(mdtrt_ids)))
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, mdtrt_ids.pop())
            thawed = visit.state in ("discharged", "settled") and self.faults.mutant(
                "accept-fees-after-discharge"
            )
            after = visit.state if thawed else self.step(visit, ctx.infno)
            fees = visit.doc["fees"]
            if self.faults.mutant("last-fee-batch-only"):
                fees.clear()
            results = []
            for line in lines:
                sn = line["feedetl_sn"]
                entry = self.province.catalog.get(line["med_list_codg"])
                if entry is None and self.faults.mutant("accept-unlisted-items"):
                    entry = unlisted(line)
                if entry is None:
                    raise BusinessError("E5003", med_list_codg=line["med_list_codg"])
                if sn in fees and not self.faults.mutant("accept-duplicate-feedetl-sn"):
                    raise BusinessError("E4006", feedetl_sn=sn)
                original = line.get("init_feedetl_sn")
                if (
                    float(line["cnt"]) < 0
                    and (not original or fees.get(original, {}).get("status") != "active")
                    and not self.faults.mutant("accept-orphan-refund")
                ):
                    raise BusinessError("E4007", init_feedetl_sn=original or "（空）")
                if float(line["cnt"]) < 0 and self.faults.mutant("refund-counted-positive"):
                    line = {
                        k: -float(line[k]) if k in ("cnt", "det_item_fee_sumamt") else v
                        for k, v in line.items()
                    }
                if entry.chrgitm_lv == "02" and self.faults.mutant("yi-as-jia"):
                    entry = replace(entry, chrgitm_lv="01", selfpay_prop=Decimal(0))
                if self.faults.mutant("ignore-price-cap"):
                    entry = replace(entry, price_cap=None)
                split = classify(entry, line["cnt"], line["pric"], line["det_item_fee_sumamt"])
                result = result_line(entry, line, split)
                fees[sn] = {
                    "status": "active",
                    "batch": line.get("chrg_bchno"),
                    "code": entry.item.code,
                    "name": entry.item.name,
                    "type": entry.item.med_chrgitm_type,
                    "lv": entry.chrgitm_lv,
                    "list_type": entry.item.list_type,
                    "time": line["fee_ocur_time"],
                    "cnt": line["cnt"],
                    "pric": line["pric"],
                    "amount": str(yuan(line["det_item_fee_sumamt"])),
                    "split": [
                        str(x) for x in (split.fulamt_ownpay, split.overlmt, split.preselfpay, split.inscp)
                    ],
                    "result": result,
                    "medins_list_codg": line["medins_list_codg"],
                }
                results.append(result)
            self.save(conn, visit, after, ctx.infno)
            ctx.output = {"result": results}

    async def cancel_fees(self, ctx: Context) -> None:
        data = ctx.input["data"]
        key, field = ("chrg_bchno", "batch") if ctx.infno == "2205" else ("feedetl_sn", None)
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            self.step(visit, ctx.infno, fees_remain=True)  # refuses settled visits (fees are frozen) first
            live = visit.live_fees()
            chosen = [
                f
                for sn, f in live.items()
                if (data[key] == "0000" and not self.faults.mutant("no-cancel-all-fees"))
                or (f.get(field) if field else sn) == data[key]
                or self.faults.mutant("cancel-fees-cancels-all")
            ]
            if not chosen:
                raise BusinessError("E4008")
            for f in chosen:
                f["status"] = "cancelled"
            after = self.step(visit, ctx.infno, fees_remain=bool(visit.live_fees()))
            self.save(conn, visit, after, ctx.infno)

    # ── settlement ─────────────────────────────────────────────────

    def totals(self, visit: Visit, data: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], Split]:
        """The fees a settlement covers, checked against what the hospital says they add up to."""
        fees = visit.live_fees(data.get("chrg_bchno") if visit.kind is OUTPATIENT else None)
        split = sum((Split(*(Decimal(x) for x in f["split"])) for f in fees.values()), Split())
        total = sum((yuan(f["amount"]) for f in fees.values()), ZERO)
        if yuan(data["medfee_sumamt"]) != total and not self.faults.mutant("skip-fee-total-check"):
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
            "fixmedins_name": self.province.hospitals[visit.fixmedins_code].name,
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

    async def presettle(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.work() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            after = self.step(visit, ctx.infno)
            fees, split = self.totals(visit, data)
        peer = self.insurer(visit.insuplc_admdvs)
        answer = await self.ask(peer, self.claim_request(peer, visit, data, fees, split, "Y2303", None, None))
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            visit.doc["presettlement"] = answer["output"]["setlinfo"]
            self.save(conn, visit, after, ctx.infno)
            ctx.output = self.local_output(answer["output"], visit, ctx)

    def local_output(self, output: Mapping[str, Any], visit: Visit, ctx: Context) -> dict[str, Any]:
        """The insured side's answer as the hospital receives it: its own msgid as medins_setl_id."""
        setlinfo = {
            **output["setlinfo"],
            "mdtrt_cert_type": visit.doc["person"]["mdtrt_cert_type"],
            "clr_optins": self.admdvs,
            "medins_setl_id": ctx.msgid,
        }
        return {"setlinfo": setlinfo, "setldetail": output["setldetail"]}

    async def settle(self, ctx: Context) -> None:
        data = ctx.input["data"]
        setl_id = self.new_id(ctx.now)
        mid = data.get("mid_setl_flag") == "1" and not self.faults.mutant("refuse-mid-settlement")

        def check(conn: Connection, visit: Visit) -> dict[str, Any]:
            after = self.step(
                visit, ctx.infno, mid_setl=mid or self.faults.mutant("settle-without-discharge")
            )
            fees, split = self.totals(visit, data)
            peer = self.insurer(visit.insuplc_admdvs)
            request = self.claim_request(peer, visit, data, fees, split, "Y2304", setl_id, ctx.msgid)
            return {
                "after": after,
                "peer": peer,
                "request": request,
                "fees": fees,
                "pending": {"remote": request["msgid"], "oinfno": "Y2304", "setl_id": setl_id},
            }

        with self.in_flight(data["mdtrt_id"]):
            visit, p = self.claim(ctx, data["mdtrt_id"], "settling", check)
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
            visit = self.load(conn, ctx, data["mdtrt_id"])
            output = self.local_output(answer["output"], visit, ctx)
            for sn in p["fees"]:
                visit.doc["fees"][sn]["setl_id"] = setl_id
            visit.doc["settlement"] = {
                "setl_id": setl_id,
                "msgid": ctx.msgid,
                "remote": p["request"]["msgid"],
            }
            self.book(conn, ctx, visit, "settle", setl_id, output)
            self.save(conn, visit, p["after"], ctx.infno)
            ctx.effect = {"setl_id": setl_id, "mdtrt_id": visit.mdtrt_id, "remote": p["request"]["msgid"]}
            ctx.output = output

    async def settle_remotely(
        self, ctx: Context, visit: Visit, peer: Peer, request: dict[str, Any]
    ) -> dict[str, Any]:
        """Send a claimed call; on failure undo the claim (reversing remotely when the outcome is unknown)."""
        try:
            return await self.ask(peer, request)
        except Relayed as e:
            if e.infcode == -1:
                await self.undo_remote(
                    peer, visit.insuplc_admdvs, visit.psn_no, request["msgid"], request["infno"]
                )
            if not self.faults.mutant("keep-claim-after-refusal"):
                self.release(ctx, visit)
            raise
        except BusinessError as refusal:
            try:
                await self.undo_remote(
                    peer, visit.insuplc_admdvs, visit.psn_no, request["msgid"], request["infno"]
                )
            except Unreachable:
                raise refusal from None  # the claim stays: recovery reverses it when the insured side is back
            self.release(ctx, visit)
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
        self.store.q.book.run(
            conn,
            node=self.name,
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

    def active_settlement(self, conn: Connection, visit: Visit, setl_id: str) -> Any:
        row = conn.execute(
            select(settlements).where(
                settlements.c.node == self.name,
                settlements.c.setl_id == setl_id,
                settlements.c.kind == "settle",
                settlements.c.status == "active",
            )
        ).first()
        if row is None or row.mdtrt_id != visit.mdtrt_id:
            raise BusinessError("E4005", setl_id=setl_id, mdtrt_id=visit.mdtrt_id)
        return row

    async def cancel_settlement(self, ctx: Context) -> None:
        data = ctx.input["data"]

        def check(conn: Connection, visit: Visit) -> dict[str, Any]:
            after = self.step(visit, ctx.infno)
            row = self.active_settlement(conn, visit, data["setl_id"])
            peer = self.insurer(visit.insuplc_admdvs)
            request = peer.request(
                "Y2305",
                {"data": {"mdtrt_id": visit.mdtrt_id, "setl_id": row.setl_id, "psn_no": visit.psn_no}},
                insuplc_admdvs=visit.insuplc_admdvs,
            )
            return {
                "after": after,
                "peer": peer,
                "request": request,
                "original": row.msgid,
                "pending": {"remote": request["msgid"], "oinfno": "Y2305", "setl_id": row.setl_id},
            }

        with self.in_flight(data["mdtrt_id"]):
            visit, p = self.claim(ctx, data["mdtrt_id"], "cancelling", check)
            answer = await self.settle_remotely(ctx, visit, p["peer"], p["request"])
            self.finish_cancellation(ctx, data, p, answer)

    def finish_cancellation(
        self, ctx: Context, data: Mapping[str, Any], p: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> None:
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            original = conn.execute(
                select(settlements).where(
                    settlements.c.node == self.name, settlements.c.msgid == p["original"]
                )
            ).one()
            negative = negate(self.spec, original.doc)
            negative["setlinfo"].update(
                setl_time=datetime_text(ctx.now), balc=answer["output"]["setlinfo"].get("balc", 0.0)
            )
            conn.execute(
                update(settlements)
                .where(settlements.c.node == self.name, settlements.c.msgid == p["original"])
                .values(status="cancelled")
            )
            self.book(conn, ctx, visit, "cancel", original.setl_id, negative)
            for f in visit.doc["fees"].values():
                if f.get("setl_id") == original.setl_id:
                    del f["setl_id"]
            visit.doc.pop("settlement", None)
            self.save(conn, visit, p["after"], ctx.infno)
            ctx.effect = {
                "setl_id": original.setl_id,
                "of": p["original"],
                "remote": p["request"]["msgid"],
                "mdtrt_id": visit.mdtrt_id,
            }
            fields = self.spec.transaction(ctx.infno).output["setlinfo"].fields
            ctx.output = {
                "setlinfo": {k: v for k, v in negative["setlinfo"].items() if k in fields},
                "setldetail": negative["setldetail"],
            }

    # ── 2601 ───────────────────────────────────────────────────────

    async def reverse(self, ctx: Context) -> None:
        data = ctx.input["data"]
        oinfno, omsgid = data["oinfno"], data["omsgid"]
        with ctx.work() as conn:
            original = conn.execute(select(messages).where(message_key.is_(self.name, omsgid))).first()
        if original is None and self.faults.mutant("reversal-of-unknown-succeeds"):
            with ctx.answer():
                return
        if original is None or original.infno != oinfno or original.response.get("infcode") not in (0, "0"):
            raise BusinessError("E6002", oinfno=oinfno, omsgid=omsgid)
        if not self.spec.transaction(oinfno).reversible:
            raise BusinessError("E6003", oinfno=oinfno)
        if original.reversed_by:
            raise BusinessError("E6004", omsgid=omsgid)
        if self.faults.mutant("reversal-changes-nothing"):
            with ctx.answer():
                return
        effect = original.effect
        remote_infno = {
            "2401": "Y2401",
            "2201": "Y2401",
            "2304": "Y2304",
            "2207": "Y2304",
            "2305": "Y2305",
            "2208": "Y2305",
        }[oinfno]

        def check(conn: Connection, visit: Visit) -> dict[str, Any]:
            after = self.step(visit, ctx.infno, reverse=oinfno)
            return {
                "after": after,
                "pending": {"remote": effect["remote"], "oinfno": remote_infno, "reversal": True},
            }

        with self.in_flight(effect["mdtrt_id"]):
            visit, p = self.claim(ctx, effect["mdtrt_id"], "reversing", check)
            peer = self.insurer(visit.insuplc_admdvs)
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
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, effect["mdtrt_id"])
            if oinfno in ("2304", "2207"):
                row = conn.execute(
                    select(settlements).where(settlements.c.node == self.name, settlements.c.msgid == omsgid)
                ).one()
                conn.execute(
                    update(settlements)
                    .where(settlements.c.node == self.name, settlements.c.msgid == omsgid)
                    .values(status="reversed")
                )
                self.book(conn, ctx, visit, "reversal", row.setl_id, negate(self.spec, row.doc))
                visit.doc.pop("settlement", None)
            elif oinfno in ("2305", "2208"):
                conn.execute(
                    update(settlements)
                    .where(settlements.c.node == self.name, settlements.c.msgid == omsgid)
                    .values(status="reversed")
                )
                conn.execute(
                    update(settlements)
                    .where(settlements.c.node == self.name, settlements.c.msgid == effect["of"])
                    .values(status="active")
                )
            self.save(conn, visit, p["after"], ctx.infno)
            conn.execute(
                update(messages).where(message_key.is_(self.name, omsgid)).values(reversed_by=ctx.msgid)
            )

    # ── queries ────────────────────────────────────────────────────

    async def query_settlement(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            row = conn.execute(
                select(settlements).where(
                    settlements.c.node == self.name,
                    settlements.c.mdtrt_id == data["mdtrt_id"]
                    if self.faults.mutant("query-by-visit-only")
                    else settlements.c.setl_id == data["setl_id"],
                    settlements.c.kind == "settle",
                    settlements.c.fixmedins_code == ctx.account.code,
                )
            ).first()
            if row is None or row.mdtrt_id != data["mdtrt_id"] or row.psn_no != data["psn_no"]:
                raise BusinessError("E4005", setl_id=data["setl_id"], mdtrt_id=data["mdtrt_id"])
            visit = self.load(conn, ctx, row.mdtrt_id)
            hospital = self.province.hospitals[row.fixmedins_code]
            s = row.doc["setlinfo"]
            if self.faults.mutant("query-answers-presettlement"):  # the trial's amounts, not the settlement's
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
                    if row.status == "active" or self.faults.mutant("query-ignores-cancellation")
                    else "1",
                    "year": s["setl_time"][:4],
                },
                "setldetail": row.doc["setldetail"],
            }

    async def query_fees(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            visit = self.load(conn, ctx, data["mdtrt_id"])
            if visit.psn_no != data["psn_no"]:
                raise BusinessError("E4001", mdtrt_id=data["mdtrt_id"])
            rows = [
                {
                    **f["result"],
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
                for f in visit.doc["fees"].values()
                if (f["status"] == "active" or self.faults.mutant("fee-query-includes-cancelled"))
                and data.get("setl_id") in (None, "", f.get("setl_id"))
            ]
            ctx.output = {"data": rows}

    async def query_in_hospital(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            query = select(visits).where(
                visits.c.node == self.name,
                visits.c.kind == "inpatient",
                visits.c.fixmedins_code == ctx.account.code,
                visits.c.state.in_(
                    (*OPEN, "settled") if self.faults.mutant("in-hospital-lists-settled") else OPEN
                ),
            )
            if data.get("psn_no"):
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

    # ── details after the fact (事后传明细) ─────────────────────────

    DETAIL_BATCH = 100

    async def send_details(self) -> int:
        """Send the classified fee lines of settled visits to their insured side, in batches (Y2301)."""
        with self.store.begin() as conn:
            pending = [
                r
                for r in conn.execute(
                    select(settlements).where(
                        settlements.c.node == self.name,
                        settlements.c.kind == "settle",
                        settlements.c.status == "active",
                    )
                )
                if r.doc.get("details") == "pending"
            ]
        sent = 0
        for row in pending:
            with self.store.begin() as conn:
                visit = Visit(
                    conn.execute(
                        select(visits).where(visits.c.node == self.name, visits.c.mdtrt_id == row.mdtrt_id)
                    ).one()
                )
            lines = [
                self.detail_line(sn, f)
                for sn, f in visit.doc["fees"].items()
                if f.get("setl_id") == row.setl_id
            ]
            peer = self.insurer(row.insuplc_admdvs)
            try:
                for start in range(0, len(lines), self.DETAIL_BATCH):
                    answer = await peer.call(
                        "Y2301",
                        {
                            "data": {
                                "mdtrt_id": row.mdtrt_id,
                                "setl_id": row.setl_id,
                                "psn_no": row.psn_no,
                                "totalrow": len(lines),
                            },
                            "feedetail": lines[start : start + self.DETAIL_BATCH],
                        },
                        insuplc_admdvs=row.insuplc_admdvs,
                    )
                    if answer.get("infcode") not in (0, "0"):
                        raise Unreachable(str(answer.get("err_msg")))
            except Unreachable as e:
                log.warning("%s: details of %s not sent yet: %s", self.name, row.setl_id, e)
                continue
            with self.store.begin() as conn:
                conn.execute(
                    update(settlements)
                    .where(settlements.c.node == self.name, settlements.c.msgid == row.msgid)
                    .values(doc={**row.doc, "details": "sent"})
                )
            sent += 1
        return sent

    @staticmethod
    def detail_line(sn: str, fee: Mapping[str, Any]) -> dict[str, Any]:
        r = fee["result"]
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

    # ── recovery ───────────────────────────────────────────────────

    async def recover(self) -> int:
        """Reverse every claim left behind by a crash or an unreachable insured side (a visit still
        settling, cancelling or reversing whose call is not under way); what cannot be reached yet is
        tried again next time."""
        if self.faults.mutant("no-claim-recovery"):
            return 0
        with self.store.begin() as conn:
            stuck = [
                Visit(r)
                for r in conn.execute(
                    select(visits).where(visits.c.node == self.name, visits.c.state.in_(TRANSIENT))
                )
                if r.mdtrt_id not in self.inflight
            ]
        recovered = 0
        for visit in stuck:
            pending = visit.doc.get("pending", {})
            peer = self.insurer(visit.insuplc_admdvs)
            try:
                if pending.get("remote") and not pending.get("reversal"):
                    await self.undo_remote(
                        peer, visit.insuplc_admdvs, visit.psn_no, pending["remote"], pending["oinfno"]
                    )
            except Unreachable:
                continue
            recovered += 1
            with self.store.begin() as conn:
                row = conn.execute(
                    select(visits).where(visits.c.node == self.name, visits.c.mdtrt_id == visit.mdtrt_id)
                ).one()
                fresh = Visit(row)
                before = fresh.doc.get("pending", {}).get("before", fresh.state)
                self.save(conn, fresh, before)
            log.warning("%s: recovered %s from %s to %s", self.name, visit.mdtrt_id, visit.state, before)
        return recovered


def unlisted(line: Mapping[str, Any]) -> CatalogEntry:
    """An item outside the catalog as the accept-unlisted-items mutant takes it: 丙类, self-paid in full."""
    item = Item(line["med_list_codg"], line.get("medins_list_name") or "目录外项目", "14", "201", Decimal(0))
    return CatalogEntry(item, "03", Decimal(1), None)


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
