"""Files, reconciliation and remote-patient clearing at the treatment place, over real HTTP: what the
suites' cases do not show (simulators/treatment/reconcile.py, simulators/treatment/remote.py)."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime

import httpx
import pytest
from sqlalchemy import insert, select

from yidi.actors.his import His, Refused
from yidi.simulators.store import settlements
from yidi.simulators.treatment.reconcile import zipped
from yidi.specs import transport

from .conftest import Served
from .test_episodes import settled

TODAY = ("2026-11-23", "2026-11-23")
DETAIL = ("certno", "mdtrt_id", "mdtrt_setl_time", "setl_sn", "medfee_sumamt", "optins_pay_sumamt")


def test_a_file_comes_back_as_itself_and_only_to_its_hospital(served: Served) -> None:
    his, other = served.his("H50000000001"), served.his("H50000000002")
    content = zipped("a.txt", [["x", "y"]])
    number = his.upload_file("a.zip", content)
    down = {"file_qury_no": number, "filename": "a.zip", "fixmedins_code": "H50000000001"}
    raw = httpx.post(
        f"{his.hospital.gateway}/9102",
        json=his.message("9102", {"fsDownloadIn": down}),
        headers=dict(his_headers(his)),
    )
    assert raw.headers["content-type"] == "application/octet-stream" and raw.content == content
    with pytest.raises(Refused, match="E7010"):  # another hospital's file
        other.download_file(number, "a.zip")
    httpx.post(
        f"{served.url}/admin/clock", headers=served.admin, json={"advance_seconds": 8 * 86400}
    ).raise_for_status()
    with pytest.raises(Refused, match="E7010"):  # past its download deadline
        his.download_file(number, "a.zip")


def his_headers(his: His) -> dict[str, str]:
    return transport.sign_headers(his.spec, his.hospital.paasid, his.hospital.secret, now=time.time())


def test_a_file_that_is_not_a_zip_or_a_detail_with_wrong_columns_is_refused_by_name(served: Served) -> None:
    his = served.his("H50000000001")
    with pytest.raises(Refused, match=r"E7009.*x\.zip"):
        his.upload_file("x.zip", b"not a zip")
    number = his.upload_file("d.zip", zipped("d.txt", [["only", "three", "cells"]]))
    data = {"medfee_sumamt": 0, "fund_pay_sumamt": 0, "cash_payamt": 0, "fixmedins_setl_cnt": 0}
    with pytest.raises(Refused, match=r"E7011.*第1行有3列，应为7列"):
        his.reconcile_detail(TODAY, number, data, setl_optins="510100")


def test_a_detail_row_with_other_amounts_is_named_in_the_result(served: Served) -> None:
    his, episode = settled(served, "P01", "H50000000001")
    s = episode.settlement["setlinfo"]  # type: ignore[index]
    wrong = [
        s["setl_id"],
        s["mdtrt_id"],
        s["psn_no"],
        str(s["medfee_sumamt"]),
        "1.00",
        str(s["acct_pay"]),
        "0",
    ]
    number = his.upload_file("d.zip", zipped("d.txt", [wrong]))
    data = {"medfee_sumamt": 0, "fund_pay_sumamt": 0, "cash_payamt": 0, "fixmedins_setl_cnt": 1}
    result = his.reconcile_detail(TODAY, number, data, setl_optins=episode.insuplc_admdvs).output["fileinfo"]
    archive = zipfile.ZipFile(io.BytesIO(his.download_file(result["file_qury_no"], result["filename"])))
    (line,) = [
        row.split("\t") for row in archive.read("result.txt").decode().splitlines() if s["setl_id"] in row
    ]
    assert line[4] == "1" and line[6] == f"fund_pay_sumamt医院1.00平台{float(s['fund_pay_sumamt']):.2f}"


def test_the_clearing_extract_comes_in_pages_of_100(served: Served) -> None:
    his = served.his("H50000000001")
    with served.sim.store.begin() as conn:  # 150 booked cross-province settlements of the hospital
        base = dict(
            node="treatment:500000", kind="settle", mdtrt_id="M", psn_no="P", fixmedins_code="H50000000001",
            insuplc_admdvs="510100", infno="2304", medfee=10000, fund=7000, acct=0, cash=3000,
            status="active", cross=True, doc={"setlinfo": {"certno": "510100199001010011"}},
            sim_time=datetime(2026, 11, 2, 9),
        )  # fmt: skip
        rows = [{**base, "msgid": f"M{i:04d}", "setl_id": f"S{i:04d}"} for i in range(150)]
        conn.execute(insert(settlements), rows)
        assert conn.execute(select(settlements.c.msgid)).all()
    first = his.call("3260", {"data": {"trt_year": "2026", "trt_month": "11", "startrow": 1}}).output["data"]
    rows = his.clearing_rows("202611")
    assert len(first) == 100 and len(rows) == 150
    assert [r["seqno"] for r in rows] == list(range(1, 151)) and len({r["setl_sn"] for r in rows}) == 150
    with pytest.raises(Refused, match="E7007"):  # totalrow must be the detail's count
        his.call(
            "3261",
            {
                "data": {"trt_year": "2026", "trt_month": "11", "totalrow": 2},
                "detail": [{k: rows[0][k] for k in DETAIL} | {"cnfm_flag": "1"}],
            },
        )
