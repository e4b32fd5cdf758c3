"""A hospital's back office with its platform: the monthly clearing of remote patients (异地清分:
3260–3262) and reconciliation (对账: 3201, 3202 with the detail file up by 9101, the result down by 9102)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from .client import HisClient
from .model import Refused, Reply


class BackOffice(HisClient):
    # ── monthly clearing of remote patients (异地清分) ───────────────────

    def clearing_rows(self, month: str) -> list[dict[str, Any]]:
        """3260, page after page (at most 100 rows each): the month's rows the platform has for us."""
        rows: list[dict[str, Any]] = []
        while True:
            data = {"trt_year": month[:4], "trt_month": month[4:], "startrow": len(rows) + 1}
            page = self.call("3260", {"data": data}).output.get("data") or []
            rows += page
            if len(page) < 100:
                return rows

    def confirm_clearing(
        self, month: str, rows: Sequence[Mapping[str, Any]], *, confirm: bool = True
    ) -> Reply:
        """3261: these rows confirmed (or left out of this month's clearing)."""
        keep = ("certno", "mdtrt_id", "mdtrt_setl_time", "setl_sn", "medfee_sumamt", "optins_pay_sumamt")
        detail = [{**{k: r[k] for k in keep}, "cnfm_flag": "1" if confirm else "0"} for r in rows]
        data = {"trt_year": month[:4], "trt_month": month[4:], "totalrow": len(detail)}
        return self.call("3261", {"data": data, "detail": detail})

    def undo_clearing(self, month: str, otransid: str = "0") -> Reply:
        """3262: undo one 3261 (its answer's inf_refmsgid) or, with '0', every confirmation of the month."""
        return self.call(
            "3262", {"data": {"trt_year": month[:4], "trt_month": month[4:], "otransid": otransid}}
        )

    # ── reconciliation (对账) ───────────────────────────────────────

    def reconcile_totals(self, period: tuple[str, str], totals: Mapping[str, Any], **group: Any) -> Reply:
        """3201: our totals for the period (medfee_sumamt, fund_pay_sumamt, acct_pay, fixmedins_setl_cnt) for
        one insutype, clr_type and setl_optins (``group``; REFD_SETL_FLAG too)."""
        data = {"stmt_begndate": period[0], "stmt_enddate": period[1], **totals, **group}
        return self.call("3201", {"data": data})

    def upload_file(self, filename: str, content: bytes) -> str:
        """9101: a file (a ZIP), base64 as OH sends it; its file_qury_no."""
        up = {
            "in": base64.b64encode(content).decode(),
            "filename": filename,
            "fixmedins_code": self.hospital.fixmedins_code,
        }
        return str(self.call("9101", {"fsUploadIn": up}).output["file_qury_no"])

    def reconcile_detail(
        self, period: tuple[str, str], file_qury_no: str, totals: Mapping[str, Any], **group: Any
    ) -> Reply:
        """3202 with the uploaded detail file; the answer names the result file to download."""
        data = {
            "stmt_begndate": period[0],
            "stmt_enddate": period[1],
            "file_qury_no": file_qury_no,
            **totals,
            **group,
        }
        return self.call("3202", {"data": data})

    def download_file(self, file_qury_no: str, filename: str) -> bytes:
        """9102: the file itself."""
        down = {
            "file_qury_no": file_qury_no,
            "filename": filename,
            "fixmedins_code": self.hospital.fixmedins_code,
        }
        reply = self.call("9102", {"fsDownloadIn": down})
        if reply.file is None:
            raise Refused(reply)
        return reply.file
