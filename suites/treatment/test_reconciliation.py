"""Reconciliation (对账) cases against a treatment-province platform: 3201 by totals, 3202 by detail with the
file uploaded by 9101 and the result downloaded by 9102.

The hospital's side is what the platform answered it (the 2304 and 2305 answers of the case); the period is
the day the platform booked them (its own clock: the answers' refmsg_time).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ...actors.his import His, Reply
from ...simulators.treatment.reconcile import zipped
from ...specs.money import yuan
from ..catalogue import Case
from ..plugin import Sut, case
from ..steps import accepted, fail, settled, succeed

SECOND = {"L00005": "L00026", "L00047": "L00012"}  # the other person of each case, insured in Ankang too
GROUP = {"insutype": "310", "clr_type": "21", "setl_optins": "610900"}
GROUP_DETAIL = {"clr_type": "21", "setl_optins": "610900"}  # 3202 has no insutype


def day(reply: Reply) -> tuple[str, str]:
    stamp = str(reply.body["refmsg_time"])
    when = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    return when, when


def totals(*setlinfos: Mapping[str, Any], count: int) -> dict[str, Any]:
    return {
        "medfee_sumamt": float(sum(yuan(s["medfee_sumamt"]) for s in setlinfos)),
        "fund_pay_sumamt": float(sum(yuan(s["fund_pay_sumamt"]) for s in setlinfos)),
        "acct_pay": float(sum(yuan(s["acct_pay"]) for s in setlinfos)),
        "fixmedins_setl_cnt": count,
    }


def statement(reply: Reply, expected: str, why: str) -> dict[str, Any]:
    info = dict(reply.output["stmtinfo"])
    if info.get("stmt_rslt") != expected:
        fail(
            f"{why}，对账结果stmt_rslt应为{expected}，实际{info.get('stmt_rslt')}（{info.get('stmt_rslt_dscr')}）",
            rule="R-REC-01",
            on=reply,
            expected={"stmt_rslt": expected},
            actual={"stmt_rslt": info.get("stmt_rslt"), "stmt_rslt_dscr": info.get("stmt_rslt_dscr")},
        )
    return info


def before(sut: Sut, his: His, period: tuple[str, str], mine: set[str]) -> dict[str, list[Any]]:
    """The platform's rows of the group for the day other than the case's own (other cases', a run before
    this one on the same day), by refd_setl_flag: a 3202 with an empty detail file lists every row the
    platform has as 平台有、医院无, with its amounts (R-REC-02); a row's insutype is its person's in the
    world, or what 5203 says of it."""
    number = accepted(
        lambda: his.upload_file("empty.zip", zipped("detail.txt", [])), "R-REC-02", "上传明细文件应成功"
    )
    zero = {"medfee_sumamt": 0, "fund_pay_sumamt": 0, "cash_payamt": 0, "fixmedins_setl_cnt": 0}
    detail = succeed(lambda: his.reconcile_detail(period, number, zero, **GROUP_DETAIL))
    insutypes = {p.psn_no: p.insutype for p in sut.world.persons.values()}
    rows: dict[str, list[Any]] = {"0": [], "1": []}
    for cells in result_lines(his, detail):
        psn_no, mdtrt_id, setl_id, flag = cells[0], cells[1], cells[2], cells[5]
        if setl_id in mine:
            continue
        if psn_no not in insutypes:
            query = his.call(
                "5203", {"data": {"psn_no": psn_no, "setl_id": setl_id, "mdtrt_id": mdtrt_id}}, check=False
            )
            insutypes[psn_no] = str(query.output.get("setlinfo", {}).get("insutype") or GROUP["insutype"])
        if insutypes[psn_no] == GROUP["insutype"]:
            rows[flag].append(cells)
    return rows


def baseline(rows: dict[str, list[Any]], refunds: str) -> dict[str, Any]:
    """What those rows add to a 3201 total: all of them with refunds; without, the settlements that were
    not cancelled (R-REC-01)."""
    cancelled = {cells[2] for cells in rows["1"]}
    counted = [*rows["0"], *rows["1"]] if refunds == "1" else [c for c in rows["0"] if c[2] not in cancelled]
    return {
        "medfee_sumamt": sum(yuan(c[7]) for c in counted),
        "fund_pay_sumamt": sum(yuan(c[8]) for c in counted),
        "acct_pay": sum(yuan(c[9]) for c in counted),
        "fixmedins_setl_cnt": len(counted),
    }


def plus(sums: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        k: float(Decimal(str(v)) + extra[k]) if k != "fixmedins_setl_cnt" else v + extra[k]
        for k, v in sums.items()
    }


@case("JT-REC-001")
def test_totals_balance_with_or_without_refunds_and_a_difference_is_named(sut: Sut, joint_case: Case) -> None:
    his, kept = settled(sut, joint_case.person, joint_case.hospital)
    _, cancelled = settled(sut, SECOND[joint_case.person], joint_case.hospital)
    settlement = cancelled.replies[-1]
    undone = succeed(lambda: his.cancel_settlement(cancelled))
    a, b, c = (r.output["setlinfo"] for r in (kept.replies[-1], settlement, undone))
    period = day(kept.replies[-1])
    earlier = before(sut, his, period, {a["setl_id"], b["setl_id"]})

    def ask(sums: dict[str, Any], refunds: str) -> Reply:
        sums = plus(sums, baseline(earlier, refunds))
        return succeed(lambda: his.reconcile_totals(period, sums, **GROUP, REFD_SETL_FLAG=refunds))

    statement(ask(totals(a, count=1), "0"), "0", "不含退费时只计未撤销的一笔结算")
    statement(ask(totals(a, b, c, count=3), "1"), "0", "含退费时计两笔结算与一笔撤销的净额")
    wrong = totals(a, b, c, count=3)
    wrong["fund_pay_sumamt"] = float(Decimal(str(wrong["fund_pay_sumamt"])) + Decimal("0.01"))
    info = statement(ask(wrong, "1"), "1", "基金支付总额多报0.01元")
    if "fund_pay_sumamt" not in str(info.get("stmt_rslt_dscr")):
        fail(
            "不平时对账结果说明应指明不符的项目fund_pay_sumamt",
            rule="R-REC-01",
            infno="3201",
            expected={"stmt_rslt_dscr": "…fund_pay_sumamt…"},
            actual={"stmt_rslt_dscr": info.get("stmt_rslt_dscr")},
        )


def result_lines(his: His, reply: Reply) -> list[list[str]]:
    """【9102】 the result file of a 3202: its lines, TAB-separated cells (psn_no, mdtrt_id, setl_id, msgid,
    stmt_rslt, refd_setl_flag, memo, medfee_sumamt, fund_pay_sumamt, acct_pay)."""
    info = reply.output["fileinfo"]
    content = accepted(
        lambda: his.download_file(str(info["file_qury_no"]), str(info["filename"])),
        "R-REC-02",
        "下载结果文件应成功",
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    except (zipfile.BadZipFile, IndexError, UnicodeDecodeError) as e:
        fail(f"结果文件应为ZIP内的TAB分隔文本：{type(e).__name__}", rule="R-REC-02", infno="9102")
    return [line.split("\t") for line in text.splitlines() if line]


@case("JT-REC-002")
def test_the_detail_result_says_which_side_has_what(sut: Sut, joint_case: Case) -> None:
    his, reported = settled(sut, joint_case.person, joint_case.hospital)
    _, unreported = settled(sut, SECOND[joint_case.person], joint_case.hospital)
    mine, theirs = (e.replies[-1].output["setlinfo"] for e in (reported, unreported))
    fake = {"setl_id": f"FAKE{mine['setl_id'][-12:]}", "mdtrt_id": "MFAKE", "psn_no": mine["psn_no"]}
    amounts = [str(yuan(mine[k])) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")]
    lines = [
        [mine["setl_id"], mine["mdtrt_id"], mine["psn_no"], *amounts, "0"],
        [fake["setl_id"], fake["mdtrt_id"], fake["psn_no"], "100.00", "60.00", "0.00", "0"],
    ]
    number = accepted(
        lambda: his.upload_file("detail.zip", zipped("detail.txt", lines)), "R-REC-02", "上传明细文件应成功"
    )
    sums = totals(mine, count=2) | {
        "medfee_sumamt": float(yuan(mine["medfee_sumamt"]) + 100),
        "cash_payamt": 0,
    }
    sums.pop("acct_pay")
    detail = succeed(
        lambda: his.reconcile_detail(
            day(reported.replies[-1]), number, sums, setl_optins="610900", clr_type="21"
        )
    )
    found = {cells[2]: cells for cells in result_lines(his, detail) if cells[5] == "0"}
    expected = {
        mine["setl_id"]: ("0", "平帐"),
        fake["setl_id"]: ("1", "医院有、平台无"),
        theirs["setl_id"]: ("1", "平台有、医院无"),
    }
    actual = {k: (found[k][4], found[k][6]) if k in found else None for k in expected}
    if actual != expected:
        fail(
            "结果文件应逐笔说明哪一方有何",
            rule="R-REC-02",
            on=detail,
            expected={k: "/".join(v) for k, v in expected.items()},
            actual={k: "/".join(v) if v else "（无此行）" for k, v in actual.items()},
        )
