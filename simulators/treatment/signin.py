"""What a hospital does before a visit: sign in (9001) and out (9002), and read the person (1101) from
their insured side, which a registration then relies on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update

from ...specs.envelope import datetime_text
from ..gateway import BusinessError, Context
from ..links import Peer
from ..store import signin_key, signins
from .visits import Treatment

CREDENTIAL = (
    "mdtrt_cert_type",
    "mdtrt_cert_no",
    "card_sn",
    "psn_cert_type",
    "certno",
    "psn_name",
    "begntime",
)


class SignIn:
    """The 9001, 9002 and 1101 handlers of one treatment province."""

    def __init__(self, node: Treatment) -> None:
        self.node = node
        self.handlers = {"9001": self.sign_in, "9002": self.sign_out, "1101": self.person_info}

    # ── 9001 / 9002 ────────────────────────────────────────────────

    async def sign_in(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["signIn"]
        sign_no = node.new_id(ctx.now)
        with ctx.answer() as conn:
            node.store.q.sign_in.run(
                conn,
                node=node.name,
                sign_no=sign_no,
                fixmedins_code=ctx.account.code,
                opter_no=data["opter_no"],
                signed_out=False,
                sim_time=ctx.now,
            )
            ctx.output = {"signinoutb": {"sign_time": datetime_text(ctx.now), "sign_no": sign_no}}

    async def sign_out(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["signOut"]
        with ctx.answer() as conn:
            done = conn.execute(
                update(signins)
                .where(
                    signin_key.is_(node.name, data["sign_no"]), signins.c.fixmedins_code == ctx.account.code
                )
                .values(signed_out=True)
            )
            if done.rowcount != 1:
                raise BusinessError("E2006")
            ctx.output = {"signoutoutb": {"sign_time": datetime_text(ctx.now)}}

    # ── 1101 ───────────────────────────────────────────────────────

    def peer_for_credential(self, data: Mapping[str, Any]) -> Peer:
        node = self.node
        try:
            node.insured.by_credential(data)
        except BusinessError:
            return node.insurer("000000")  # not ours: the hub finds the insured province
        return node.insurer(node.admdvs)

    async def lookup(self, ctx: Context, data: Mapping[str, Any]) -> dict[str, Any]:
        """The person behind a credential, from the insured side (Y1101)."""
        node = self.node
        peer = self.peer_for_credential(data)
        query = {k: data.get(k) for k in CREDENTIAL if data.get(k) not in (None, "")}
        query.update(mdtrtarea_admdvs=node.hospital(ctx).admdvs, fixmedins_code=ctx.account.code)
        answer = await node.ask(peer, peer.request("Y1101", {"data": query}))
        return dict(answer["output"])

    async def person_info(self, ctx: Context) -> None:
        node = self.node
        output = await self.lookup(ctx, ctx.input["data"])
        psn_no = output["baseinfo"]["psn_no"]
        with ctx.answer() as conn:
            node.store.q.unsee.run(conn, k_node=node.name, k_psn_no=psn_no)
            node.store.q.see.run(conn, node=node.name, psn_no=psn_no, doc=output, sim_time=ctx.now)
            ctx.output = {k: output[k] for k in ("baseinfo", "insuinfo", "idetinfo") if k in output}
