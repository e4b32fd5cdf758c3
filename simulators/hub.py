"""The national hub (国家异地就医结算系统): routes province↔province traffic by insuplc_admdvs, refuses
unknown regions and unsigned traffic, and keeps the national record of every cross-province
settlement, cancellation and reversal. On it rest the money between provinces (simulators/clearing.py):
the prepayment funds every settlement draws on, and the monthly clearing statements the provinces fetch,
confirm and pay (Y3201–Y3204).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ..specs.money import cents, of_cents, wire
from ..world import identity
from ..world.topology import Account
from .clearing import Funds, month_end
from .gateway import SYSTEM_ERROR, BusinessError, Context, Node, World
from .links import Peer, Unreachable

KINDS = {"Y2304": "settle", "Y2305": "cancel"}


class HubNode(Node):
    def __init__(self, world: World, accounts: Mapping[str, Account]) -> None:
        super().__init__("hub", "000000", world, accounts)
        provinces = world.topology.provinces.values()  # a platform speaks for its own province only
        self.speaks_for = {p.platform.paasid: frozenset({(p.platform.code, p.admdvs[:2])}) for p in provinces}
        self.peers: dict[str, Peer] = {}  # insured province admdvs → its endpoint, as the hub calls it
        self.index: dict[
            tuple[str, str], str
        ] = {}  # the national person index: credential → insured province
        for p in world.topology.persons.values():
            for kind, number in (("01", identity.ectoken(p.psn_no)), ("02", p.certno), ("03", p.card.cardno)):
                self.index[(kind, number)] = p.province
        self.handlers = {
            infno: self.route for infno, t in self.spec.transactions.items() if "hub" in t.route[1:-1]
        }
        self.handlers |= {
            "Y3201": self.statements,
            "Y3202": self.confirm,
            "Y3203": self.top_up,
            "Y3204": self.prepayment,
        }
        self.provinces = {p.platform.code: p.admdvs for p in world.topology.provinces.values()}
        self.routes: dict[str, str] = {}  # the hub-route-cache-by-sender mutant's cache: sender → province
        self.funds = Funds(world.topology, self.store.q, self.faults.mutant)
        with self.store.begin() as conn:
            self.funds.open(conn, self.clock.now())

    def destination(self, ctx: Context) -> str:
        if ctx.infno == "Y1101":
            data = ctx.input["data"]
            province = self.index.get((str(data["mdtrt_cert_type"]), str(data["mdtrt_cert_no"])))
            if province is None:
                raise BusinessError("E3001", psn_no=data["mdtrt_cert_no"])
            if self.faults.mutant("hub-route-cache-by-sender"):
                return self.routes.setdefault(ctx.account.code, province)
            return province
        by = "mdtrtarea_admvs" if self.faults.mutant("hub-misroutes") else "insuplc_admdvs"
        province = str(ctx.message[by])[:2] + "0000"
        if self.faults.mutant("hub-route-cache-by-sender"):  # the first route of a sender, kept for all
            return self.routes.setdefault(ctx.account.code, province)
        return province

    async def route(self, ctx: Context) -> None:
        province = self.destination(ctx)
        peer = self.peers.get(province)
        if peer is None:
            raise BusinessError("E6007", insuplc=province)
        try:
            answer = await peer.send(ctx.message)
        except Unreachable as e:
            code = "E6007" if self.faults.mutant("outage-as-not-connected") else "E6006"
            raise BusinessError(code, insuplc=province) from e
        ok = answer.get("infcode") in (0, "0")
        if not ok and self.faults.mutant("hub-masks-refusal"):  # the province's reason is lost
            answer = self.refuse(ctx.infno, SYSTEM_ERROR, detail="参保地处理失败")
        ctx.relay(answer, (lambda conn: self.record_national(conn, ctx, province, answer)) if ok else None)

    def stored(self, msgid: str) -> Mapping[str, Any] | None:
        if self.faults.mutant("hub-forwards-retries"):  # a retry goes to the insured side again
            return None
        return super().stored(msgid)

    def record_national(
        self, conn: Connection, ctx: Context, insured: str, answer: Mapping[str, Any]
    ) -> None:
        """Keep the national record: one row per settlement or cancellation; a reversal marks the row."""
        if ctx.infno == "Y2601":
            self.funds.reversed(conn, ctx.input["data"]["omsgid"], ctx.now, by=ctx.msgid)
            return
        if ctx.infno not in KINDS:
            return
        setlinfo = answer["output"]["setlinfo"]
        record = dict(
            node=self.name,
            msgid=ctx.msgid,
            infno=ctx.infno,
            setl_id=setlinfo["setl_id"],
            mdtrt_id=setlinfo["mdtrt_id"],
            psn_no=ctx.input.get("setlinfo", ctx.input.get("data", {}))["psn_no"],
            treatment=str(ctx.message["mdtrtarea_admvs"])[:2] + "0000",
            insured=insured,
            medfee=cents(setlinfo["medfee_sumamt"]),
            fund=cents(setlinfo["fund_pay_sumamt"]),
            acct=cents(setlinfo["acct_pay"]),
            status="active",
            sim_time=ctx.now,
            month=None,
        )
        self.store.q.national.run(conn, **record)
        self.funds.settled(conn, record, ctx.now)

    # ── money between provinces (Y3201–Y3204) ──────────────────────

    def province(self, ctx: Context) -> str:
        return self.provinces[ctx.account.code]

    def month(self, ctx: Context) -> str:
        """The month asked for, once it is over by the simulated clock (statements are of whole months)."""
        month = str(ctx.input["data"]["setlym"])
        if ctx.now.date() < month_end(month, wrong=self.faults.mutant("clearing-month-after-november-wrong")):
            raise BusinessError("E7001", setlym=month)
        return month

    async def statements(self, ctx: Context) -> None:
        """Y3201: the month's statements that concern the sender, issued at the first asking."""
        month = self.month(ctx)
        with ctx.answer() as conn:
            self.funds.issue(conn, month, ctx.now)
            mine = None if self.faults.mutant("statements-to-everyone") else self.province(ctx)
            ctx.output = {"clrinfo": [statement(s) for s in self.funds.statements(conn, month, mine)]}

    async def confirm(self, ctx: Context) -> None:
        """Y3202: the sender confirms and pays what it owes for the month; its funds are restored."""
        month, insured = self.month(ctx), self.province(ctx)
        with ctx.answer() as conn:
            self.funds.issue(conn, month, ctx.now)
            confirmed = self.funds.confirm(conn, month, insured, ctx.now)
            if not confirmed:
                raise BusinessError("E7002", setlym=month)
            ctx.output = {"clrinfo": [statement({**s, "state": "confirmed"}) for s in confirmed]}

    async def top_up(self, ctx: Context) -> None:
        """Y3203: the sender tops up its fund at a treatment province."""
        data, insured = ctx.input["data"], self.province(ctx)
        treatment, amount = str(data["mdtrtarea_admdvs"])[:2] + "0000", cents(data["topup_amt"])
        if amount <= 0 and not (amount < 0 and self.faults.mutant("top-up-accepts-negative")):
            raise BusinessError("E7004", amt=data["topup_amt"])
        with ctx.answer() as conn:
            if self.funds.fund(conn, insured, treatment) is None:
                raise BusinessError("E7003", insuplc=insured, mdtrtarea=treatment)
            self.funds.top_up(conn, insured, treatment, amount, ctx.now, ref=ctx.msgid)
            shown = insured
            if self.faults.mutant("top-up-answers-other-fund"):
                held = self.funds.funds(conn, treatment)
                shown = next(
                    f["insured"] for f in held if f["treatment"] == treatment and f["insured"] != insured
                )
            topped = self.funds.fund(conn, shown, treatment)
            assert topped is not None  # it was there a moment ago, in this same transaction
            ctx.output = {"prepayinfo": fund(topped)}

    async def prepayment(self, ctx: Context) -> None:
        """Y3204: the funds that concern the sender (its own at others', and others' at it)."""
        wanted = str(ctx.input["data"].get("mdtrtarea_admdvs") or "")[:2]
        with ctx.answer() as conn:
            mine = None if self.faults.mutant("funds-to-everyone") else self.province(ctx)
            funds = self.funds.funds(conn, mine)
            ctx.output = {"prepayinfo": [fund(f) for f in funds if f["treatment"].startswith(wanted)]}


ALERT_CODES = {"": "0", "warn": "1", "urgent": "2", "exhausted": "3"}


def statement(s: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "setlym": s["month"],
        "insuplc_admdvs": s["insured"],
        "mdtrtarea_admdvs": s["treatment"],
        "setl_cnt": s["settlements"],
        "clr_amt": wire(of_cents(s["amount"])),
        "clr_stas": "2" if s["state"] == "confirmed" else "1",
    }


def fund(f: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "insuplc_admdvs": f["insured"],
        "mdtrtarea_admdvs": f["treatment"],
        "prepay_amt": wire(of_cents(f["size"])),
        "balc": wire(of_cents(f["balance"])),
        "prepay_alert_lv": ALERT_CODES[f["alert"]],
    }
