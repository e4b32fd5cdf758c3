"""Reconciliation between a hospital and its treatment province (对账): 3201 by totals, and when they differ
3202 by detail through files (9101 upload, 9102 download).

The platform's side is its own books: the hospital's settlements and cancellations in the period (reversed
ones were never made), for one insurance type, clearing class (11 outpatient, 21 inpatient) and settlement
agency (the insured region). REFD_SETL_FLAG 0 leaves refunds out: the cancellations and the settlements they
cancelled. The detail file is a ZIP holding a TAB-separated text, one settlement per line:
``setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag``; the result file is
``result.txt`` with ``psn_no, mdtrt_id, setl_id, msgid, stmt_rslt, refd_setl_flag, memo, medfee_sumamt,
fund_pay_sumamt, acct_pay`` (nhsa-interface.md §3), one line per settlement either side has, saying which
side has what.
"""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from ...specs.envelope import datetime_text
from ...specs.money import cents, of_cents
from ..gateway import BusinessError, Context
from ..links import Serials
from ..store import files, settlements
from .visits import Treatment

CLR_TYPE = {"2304": "21", "2305": "21", "2207": "11", "2208": "11"}  # clearing class by the booking's infno
COLUMNS = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")
KEEP = timedelta(days=7)  # how long a file may be downloaded


class Reconciliation:
    """The 3201, 3202, 9101 and 9102 handlers of one treatment province."""

    def __init__(self, node: Treatment) -> None:
        self.node = node
        self.serials = Serials(node.store, f"{node.name}:files")
        self.handlers = {"3201": self.totals, "3202": self.detail, "9101": self.upload, "9102": self.download}

    def books(
        self, conn: Connection, hospital: str, data: Mapping[str, Any]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The platform's rows for the period, by (setl_id, refd_setl_flag)."""
        begin, end = (
            date.fromisoformat(str(data["stmt_begndate"])),
            date.fromisoformat(str(data["stmt_enddate"])),
        )
        query = select(settlements).where(
            settlements.c.node == self.node.name,
            settlements.c.fixmedins_code == hospital,
            settlements.c.kind.in_(("settle", "cancel")),
            settlements.c.status != "reversed",
            settlements.c.sim_time >= datetime(begin.year, begin.month, begin.day),
            settlements.c.sim_time < datetime(end.year, end.month, end.day) + timedelta(days=1),
        )
        refunds = str(data.get("REFD_SETL_FLAG") or "1") != "0" or self.node.faults.mutant(
            "reconcile-ignores-refunds"
        )
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for r in conn.execute(query).mappings():
            info = r["doc"].get("setlinfo") or {}
            if data.get("clr_type") and CLR_TYPE.get(r["infno"]) != str(data["clr_type"]):
                continue
            if data.get("insutype") and str(info.get("insutype")) != str(data["insutype"]):
                continue
            if str(data["setl_optins"]) != r["insuplc_admdvs"]:
                continue
            if not refunds and (r["kind"] == "cancel" or r["status"] == "cancelled"):
                continue
            flag = "1" if r["kind"] == "cancel" else "0"
            rows[(r["setl_id"], flag)] = {
                "setl_id": r["setl_id"],
                "mdtrt_id": r["mdtrt_id"],
                "psn_no": r["psn_no"],
                "msgid": r["msgid"],
                "medfee_sumamt": r["medfee"],
                "fund_pay_sumamt": r["fund"],
                "acct_pay": r["acct"],
                "refd_setl_flag": flag,
            }
        return rows

    # ── 3201: by totals ────────────────────────────────────────────

    async def totals(self, ctx: Context) -> None:
        data, hospital = ctx.input["data"], ctx.account.code
        with ctx.answer() as conn:
            rows = self.books(conn, hospital, data).values()
            platform = {
                "medfee_sumamt": sum(r["medfee_sumamt"] for r in rows),
                "fund_pay_sumamt": sum(r["fund_pay_sumamt"] for r in rows),
                "acct_pay": sum(r["acct_pay"] for r in rows),
                "fixmedins_setl_cnt": len(rows),
            }
            theirs = {k: int(data[k]) if k == "fixmedins_setl_cnt" else cents(data[k]) for k in platform}
            differ = (
                []
                if self.node.faults.mutant("reconcile-always-balanced")
                else [k for k in platform if platform[k] != theirs[k]]
            )
            fields = self.node.spec.transaction("3201").input["data"].fields

            def shown(k: str, v: int) -> str:
                return str(v) if k == "fixmedins_setl_cnt" else str(of_cents(v))

            why = "；".join(
                f"{fields[k].zh}{k}：医院{shown(k, theirs[k])}，平台{shown(k, platform[k])}" for k in differ
            )
            ctx.output = {
                "stmtinfo": {
                    "setl_optins": str(data["setl_optins"]),
                    "stmt_rslt": "1" if differ else "0",
                    "stmt_rslt_dscr": (why or "平帐")[:200],
                }
            }

    # ── files: 9101 upload, 9102 download ──────────────────────────

    async def upload(self, ctx: Context) -> None:
        up, hospital = ctx.input["fsUploadIn"], ctx.account.code
        try:
            content = base64.b64decode(str(up["in"]), validate=True)
            zipfile.ZipFile(io.BytesIO(content)).testzip()
        except (binascii.Error, zipfile.BadZipFile, ValueError) as e:
            raise BusinessError("E7009", filename=up["filename"], detail=type(e).__name__) from None
        number = self.number()
        with ctx.answer() as conn:
            self.keep(conn, number, hospital, str(up["filename"]), content, ctx.now)
            ctx.output = self.fileinfo(number, str(up["filename"]), ctx.now)  # 9101 answers it flat

    def number(self) -> str:
        """A new file_qury_no (taken before the unit of work: serials reserve their blocks in their own)."""
        return f"FQ{self.node.admdvs}{self.serials():016d}"

    def keep(
        self, conn: Connection, number: str, hospital: str, filename: str, content: bytes, now: datetime
    ) -> None:
        conn.execute(
            insert(files).values(
                node=self.node.name, file_qury_no=number, fixmedins_code=hospital, filename=filename,
                content=content, sim_time=now,
            )
        )  # fmt: skip

    @staticmethod
    def fileinfo(number: str, filename: str, now: datetime) -> dict[str, Any]:
        return {
            "file_qury_no": number,
            "filename": filename,
            "dld_endtime": datetime_text(now + KEEP),
        }

    def read(self, conn: Connection, hospital: str, number: str) -> Any:
        row = (
            conn.execute(select(files).where(files.c.node == self.node.name, files.c.file_qury_no == number))
            .mappings()
            .first()
        )
        if row is None or row["fixmedins_code"] != hospital:
            raise BusinessError("E7010", file_qury_no=number)
        return row

    async def download(self, ctx: Context) -> None:
        down = ctx.input["fsDownloadIn"]
        with ctx.answer() as conn:
            row = self.read(conn, ctx.account.code, str(down["file_qury_no"]))
            if ctx.now > row["sim_time"] + KEEP:
                raise BusinessError("E7010", file_qury_no=down["file_qury_no"])
            ctx.file = bytes(row["content"])
            ctx.output = {}

    # ── 3202: by detail ────────────────────────────────────────────

    async def detail(self, ctx: Context) -> None:
        data, hospital, number = ctx.input["data"], ctx.account.code, self.number()
        with ctx.answer() as conn:
            uploaded = self.read(conn, hospital, str(data["file_qury_no"]))
            theirs = parse(bytes(uploaded["content"]), str(data["file_qury_no"]))
            ours = self.books(conn, hospital, data)
            lines = compare(
                ours, theirs, platform_only=not self.node.faults.mutant("detail-misses-platform-only")
            )
            self.keep(conn, number, hospital, "result.zip", zipped("result.txt", lines), ctx.now)
            ctx.output = {"fileinfo": self.fileinfo(number, "result.zip", ctx.now)}


def parse(content: bytes, number: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The hospital's detail file: the first text file in the ZIP, TAB-separated, one settlement a line."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    except (zipfile.BadZipFile, IndexError, UnicodeDecodeError) as e:
        raise BusinessError("E7009", filename=number, detail=type(e).__name__) from None
    rows = {}
    for n, line in enumerate(filter(None, text.splitlines()), start=1):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            raise BusinessError("E7011", line=n, count=len(cells), expected=len(COLUMNS))
        row: dict[str, Any] = dict(zip(COLUMNS, cells, strict=True))
        try:
            for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay"):
                row[k] = cents(row[k])
        except ArithmeticError:
            raise BusinessError("E7011", line=n, count=len(cells), expected=len(COLUMNS)) from None
        rows[(row["setl_id"], row["refd_setl_flag"] or "0")] = row
    return rows


def compare(
    ours: Mapping[tuple[str, str], Mapping[str, Any]],
    theirs: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    platform_only: bool = True,
) -> list[list[str]]:
    """One result line per settlement either side has: balanced, or which side has what."""
    lines = []
    for key in sorted({*ours, *theirs} if platform_only else set(theirs)):
        mine, hers = ours.get(key), theirs.get(key)
        if mine is None:
            memo, row = "医院有、平台无", hers
        elif hers is None:
            memo, row = "平台有、医院无", mine
        else:
            differ = [k for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay") if mine[k] != hers[k]]
            memo = (
                "；".join(f"{k}医院{of_cents(hers[k])!s}平台{of_cents(mine[k])!s}" for k in differ) or "平帐"
            )
            row = mine
        assert row is not None
        lines.append(
            [
                str(row["psn_no"]), str(row["mdtrt_id"]), str(row["setl_id"]),
                str(row.get("msgid") or "null"), "0" if memo == "平帐" else "1", key[1], memo,
                *(str(of_cents(row[k])) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")),
            ]
        )  # fmt: skip
    return lines


def zipped(name: str, lines: list[list[str]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, "".join("\t".join(line) + "\n" for line in lines))
    return out.getvalue()
