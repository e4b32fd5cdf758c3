"""Monthly clearing of remote patients at the treatment place (异地清分, 3260–3262): a hospital extracts the
month's cross-province settlements the platform has for it, confirms each row or leaves it out, and may undo
a confirmation.

The rows are the treatment province's own books: every cross-province settlement and cancellation of the
hospital in the month, not reversed (a cancellation is a row of its own, negative), the same the hub counts
in the month's statement for the province pair. A row is keyed by its settlement id and kind (a negative
amount is the cancellation). A confirmed row
cannot be confirmed again until undone (R-CLR-02); a row left out (cnfm_flag 0) may be confirmed later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, true

from ...specs.envelope import datetime_text
from ...specs.money import cents, of_cents, wire
from ..clearing import span
from ..gateway import BusinessError, Context
from ..store import messages, remote_confirmations, settlements
from .visits import Treatment

PAGE = 100  # rows per 3260 page: "提取数据每次不能超过100条"


class RemoteClearing:
    """The 3260–3262 handlers of one treatment province."""

    def __init__(self, node: Treatment) -> None:
        self.node = node
        self.handlers = {"3260": self.extract, "3261": self.confirm, "3262": self.undo}

    def rows(self, conn: Connection, hospital: str, month: str) -> list[dict[str, Any]]:
        """The hospital's clearing rows of the month, in time order, numbered from 1."""
        start, end = span(month)
        kinds = (
            ("settle",)
            if self.node.faults.mutant("clearing-extract-misses-cancellations")
            else ("settle", "cancel")
        )
        mutant = self.node.faults.mutant
        in_month = (  # the mutant's month ends at its last day's 23:59:59.000
            settlements.c.sim_time <= end - timedelta(seconds=1)
            if mutant("clearing-extract-drops-last-second")
            else settlements.c.sim_time < end
        )
        found = conn.execute(
            select(settlements)
            .where(
                settlements.c.node == self.node.name,
                settlements.c.fixmedins_code == hospital,
                settlements.c.cross.is_(True),
                settlements.c.kind.in_(kinds),
                true() if mutant("clearing-extract-keeps-reversed") else settlements.c.status != "reversed",
                settlements.c.sim_time >= start,
                in_month,
            )
            .order_by(settlements.c.sim_time, settlements.c.msgid)
        ).mappings()
        return [
            {
                "seqno": i,
                "mdtrtarea": self.node.topology.hospital(hospital).admdvs,  # type: ignore[union-attr]
                "medins_no": hospital,
                "certno": str((r["doc"].get("setlinfo") or {}).get("certno") or ""),
                "mdtrt_id": r["mdtrt_id"],
                "mdtrt_setl_time": datetime_text(r["sim_time"]),
                "setl_sn": r["setl_id"],
                "fulamt_advpay_flag": "0",
                "medfee_sumamt": wire(of_cents(r["medfee"])),
                "optins_pay_sumamt": wire(of_cents(r["fund"])),
            }
            for i, r in enumerate(found, start=1)
        ]

    async def extract(self, ctx: Context) -> None:
        """3260: a page of at most 100 rows from ``startrow`` (1 is the first)."""
        data = ctx.input["data"]
        start = max(int(data["startrow"]), 1) - 1
        with ctx.answer() as conn:
            rows = self.rows(conn, ctx.account.code, month(data))
            ctx.output = {"data": rows[start : start + PAGE]}

    async def confirm(self, ctx: Context) -> None:
        """3261: each detail row confirmed (cnfm_flag 1) or left out of this clearing (0)."""
        data, detail = ctx.input["data"], ctx.input["detail"]
        if int(data["totalrow"]) != len(detail):
            raise BusinessError("E7007", totalrow=data["totalrow"], rows=len(detail))
        hospital, the_month = ctx.account.code, month(data)
        with ctx.answer() as conn:
            rows = {key(r): r for r in self.rows(conn, hospital, the_month)}
            done = {
                (c.setl_id, c.kind): c.state
                for c in conn.execute(
                    select(remote_confirmations).where(
                        remote_confirmations.c.node == self.node.name,
                        remote_confirmations.c.fixmedins_code == hospital,
                        remote_confirmations.c.month == the_month,
                    )
                )
            }
            for line in detail:
                row = key(line)
                self.check(rows.get(row), line)
                if done.get(row) == "confirmed" and not self.node.faults.mutant("clearing-reconfirm-allowed"):
                    raise BusinessError("E7006", setl_sn=line["setl_sn"])
                if row in done:
                    conn.execute(delete(remote_confirmations).where(*self.row(hospital, row)))
                conn.execute(
                    insert(remote_confirmations).values(
                        node=self.node.name,
                        fixmedins_code=hospital,
                        month=the_month,
                        setl_id=row[0],
                        kind=row[1],
                        state="confirmed" if str(line["cnfm_flag"]) == "1" else "excluded",
                        msgid=ctx.msgid,
                        sim_time=ctx.now,
                    )
                )
            ctx.output = {}

    def check(self, row: Mapping[str, Any] | None, line: Mapping[str, Any]) -> None:
        """A detail row must be one the platform extracted, with the same amounts."""
        if row is None:
            raise BusinessError("E7005", setl_sn=line["setl_sn"], field="setl_sn", detail="无此清分明细")
        for name in ("medfee_sumamt", "optins_pay_sumamt"):
            if cents(line[name]) != cents(row[name]) and not self.node.faults.mutant(
                "clearing-amounts-unchecked"
            ):
                raise BusinessError(
                    "E7005", setl_sn=line["setl_sn"], field=name, detail=f"平台为{row[name]:.2f}"
                )

    def row(self, hospital: str, row: tuple[str, str]) -> tuple[Any, ...]:
        c = remote_confirmations.c
        mine = (c.node == self.node.name, c.fixmedins_code == hospital, c.setl_id == row[0])
        if self.node.faults.mutant("clearing-reconfirm-drops-other-kind"):  # both rows of the settlement
            return mine
        return (*mine, c.kind == row[1])

    async def undo(self, ctx: Context) -> None:
        """3262: undo the confirmations of one 3261 (otransid: its answer's inf_refmsgid) or, with '0', all
        of the hospital's for the month."""
        data, hospital = ctx.input["data"], ctx.account.code
        c = remote_confirmations.c
        mine: tuple[Any, ...] = (
            c.node == self.node.name,
            c.fixmedins_code == hospital,
            c.month == month(data),
        )
        with ctx.answer() as conn:
            otransid = str(data["otransid"])
            if otransid != "0" and not self.node.faults.mutant("clearing-undo-ignores-otransid"):
                msgid = next(
                    (
                        m.msgid
                        for m in conn.execute(
                            select(messages.c.msgid, messages.c.response).where(
                                messages.c.node == self.node.name, messages.c.infno == "3261"
                            )
                        )
                        if m.response.get("inf_refmsgid") == otransid
                    ),
                    None,
                )
                if msgid is None:
                    raise BusinessError("E7008", otransid=otransid)
                mine = (*mine, c.msgid == msgid)
            if not conn.execute(delete(remote_confirmations).where(*mine)).rowcount:
                raise BusinessError("E7008", otransid=otransid)
            ctx.output = {}


def key(row: Mapping[str, Any]) -> tuple[str, str]:
    """A clearing row: its settlement, and whether it is the settlement or its cancellation."""
    return str(row["setl_sn"]), "cancel" if cents(row["medfee_sumamt"]) < 0 else "settle"


def month(data: Mapping[str, Any]) -> str:
    return f"{int(data['trt_year']):04d}{int(data['trt_month']):02d}"
