"""The national hub (国家异地就医结算系统): routes province↔province traffic by insuplc_admdvs, refuses
unknown regions and unsigned traffic, and keeps the national record of every cross-province
settlement, cancellation and reversal (the basis of monthly clearing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, update

from . import identity
from .gateway import SYSTEM_ERROR, BusinessError, Context, Node, World
from .links import Peer, Unreachable
from .store import cents, hub_records
from .topology import Account

KINDS = {"Y2304": "settle", "Y2305": "cancel"}


class HubNode(Node):
    def __init__(self, world: World, accounts: Mapping[str, Account]) -> None:
        super().__init__("hub", "000000", world, accounts)
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

    def destination(self, ctx: Context) -> str:
        if ctx.infno == "Y1101":
            data = ctx.input["data"]
            province = self.index.get((str(data["mdtrt_cert_type"]), str(data["mdtrt_cert_no"])))
            if province is None:
                raise BusinessError("E3001", psn_no=data["mdtrt_cert_no"])
            return province
        by = "mdtrtarea_admvs" if self.faults.mutant("hub-misroutes") else "insuplc_admdvs"
        return str(ctx.message[by])[:2] + "0000"

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
            conn.execute(
                update(hub_records)
                .where(hub_records.c.msgid == ctx.input["data"]["omsgid"])
                .values(status="reversed")
            )
            return
        if ctx.infno not in KINDS:
            return
        setlinfo = answer["output"]["setlinfo"]
        self.store.q.national.run(
            conn,
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
        )
