"""The steps the his-role flows share: a stay admitted with its fee batches, discharged and settled, each
message judged as it comes (the totals the HIS settles must be what it uploaded)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...specs.money import ZERO, yuan
from ..steps import fail
from .desk import Check, Clerk, Desk, Seen


@dataclass
class Stay:
    """One inpatient stay as the platform saw the HIS report it."""

    psn_no: str
    insuplc_admdvs: str
    mdtrt_id: str
    lines: list[dict[str, Any]]  # every 2301 line, in the order sent

    @property
    def total(self) -> Decimal:
        return sum((yuan(line.get("det_item_fee_sumamt")) for line in self.lines), ZERO)


def admitted(desk: Desk, batches: int = 2) -> Stay:
    """读卡【1101】 with the card and its card_sn → 入院【2401】 of that person → the instructed fees【2301】
    in ``batches`` batches, every line on this visit, each feedetl_sn once, the lines and total as billed."""
    per = -(-len(desk.items) // batches) if batches else 0
    bill = "；".join(f"{code} 数量{cnt:g} 单价{pric:.2f}" for code, cnt, pric in desk.items)
    fees = (
        f"，并分{batches}批上传以下{len(desk.items)}条费用明细【2301】（每批{per}条）：{bill}"
        if batches
        else ""
    )
    desk.instruct(
        f"请在HIS为{desk.who}读社保卡获取人员信息【1101】，办理住院入院登记【2401】{fees}",
        robot=lambda clerk: clerk.admit(per),
        do="read_card_and_admit",
        fees=[{"med_list_codg": code, "cnt": cnt, "pric": pric} for code, cnt, pric in desk.items],
        batches=batches,
    )
    card = desk.person["card"]
    (read,) = desk.expect(
        "1101",
        check=lambda s: desk.same(
            s,
            "读卡凭证",
            "R-CARD-01",
            {"mdtrt_cert_type": "03", "mdtrt_cert_no": card["cardno"], "card_sn": card["card_sn"]},
        ),
    )
    psn_no, insuplc = read.output["baseinfo"]["psn_no"], read.output["insuinfo"][0]["insuplc_admdvs"]
    (admission,) = desk.expect(
        "2401",
        check=lambda s: desk.same(
            s,
            "入院登记的人员或凭证与【1101】读卡",
            "R-LIFE-01",
            {"psn_no": psn_no, "mdtrt_cert_type": "03", "mdtrt_cert_no": card["cardno"]},
            node="mdtrtinfo",
        ),
    )
    stay = Stay(psn_no, insuplc, admission.output["result"]["mdtrt_id"], [])
    desk.expect(*["2301"] * batches, check=lambda s: fee_batch(desk, stay, s))
    if batches:
        as_billed(desk, stay)
    return stay


def fee_batch(desk: Desk, stay: Stay, seen: Seen) -> None:
    """Every line of a 2301 batch is on this visit and numbered once in it (R-LIFE-04)."""
    known = {line.get("feedetl_sn") for line in stay.lines}
    for line in seen.input.get("feedetail") or []:
        sn, visit = line.get("feedetl_sn"), {"mdtrt_id": line.get("mdtrt_id"), "psn_no": line.get("psn_no")}
        if visit != {"mdtrt_id": stay.mdtrt_id, "psn_no": stay.psn_no}:
            fail(
                f"费用明细{sn}不属于【2401】登记的就诊{stay.mdtrt_id}",
                rule="R-LIFE-01",
                on=seen,
                expected={"mdtrt_id": stay.mdtrt_id, "psn_no": stay.psn_no},
                actual=visit,
            )
        if sn in known:
            fail(
                f"费用明细流水号feedetl_sn={sn}在本次就诊内重复：流水号须在就诊内唯一",
                rule="R-LIFE-04",
                on=seen,
                expected={"feedetl_sn": "本次就诊内未用过的流水号"},
                actual={"feedetl_sn": sn, "已上传": sorted(str(k) for k in known)},
            )
        known.add(sn)
        stay.lines.append(line)


def as_billed(desk: Desk, stay: Stay) -> None:
    """The uploaded lines are the items the tester was asked to bill, and add up to the bill (R-AMT-07)."""
    billed = sorted(f"{code} ×{cnt:g} @{pric:.2f}" for code, cnt, pric in desk.items)
    sent = sorted(f"{x.get('med_list_codg')} ×{x.get('cnt')} @{x.get('pric')}" for x in stay.lines)
    bill = sum((yuan(Decimal(str(cnt)) * Decimal(str(pric))) for _, cnt, pric in desk.items), Decimal(0))
    if len(sent) != len(billed) or stay.total != bill:
        fail(
            f"上传的费用明细与应录入的费用不符：应为{len(billed)}条、合计{bill}元，"
            f"实际{len(sent)}条、合计{stay.total}元",
            rule="R-AMT-07",
            infno="2301",
            expected={"lines": billed, "total": str(bill)},
            actual={"lines": sent, "total": str(stay.total)},
        )


def totals_match(desk: Desk, stay: Stay) -> Check:
    """2303 / 2304: this visit, and medfee_sumamt equal to the fee lines uploaded for it (R-AMT-07)."""

    def check(seen: Seen) -> None:
        desk.same(seen, "结算的就诊", "R-LIFE-01", {"mdtrt_id": stay.mdtrt_id, "psn_no": stay.psn_no})
        claimed = seen.data().get("medfee_sumamt")
        if yuan(claimed) != stay.total:
            fail(
                f"医疗费总额medfee_sumamt={claimed}，应等于本次就诊已上传的费用明细合计{stay.total}",
                rule="R-AMT-07",
                on=seen,
                expected={"medfee_sumamt": str(stay.total)},
                actual={"medfee_sumamt": claimed},
            )

    return check


def discharged(desk: Desk, stay: Stay, *, lost_answer: str = "") -> tuple[Seen, Seen]:
    """Tell the tester to discharge, pre-settle and settle; 2402 and 2303 of this visit, at the uploaded
    total. Returns the discharge and the pre-settlement; the settlement is the caller's to wait for."""
    desk.instruct(
        f"请为{desk.who}办理出院【2402】，预结算【2303】，核对无误后结算【2304】{lost_answer}",
        robot=Clerk.discharge_and_settle,
        do="discharge_presettle_settle",
    )
    (discharge,) = desk.expect(
        "2402",
        check=lambda s: desk.same(
            s, "出院的就诊", "R-LIFE-01", {"mdtrt_id": stay.mdtrt_id, "psn_no": stay.psn_no}, node="dscginfo"
        ),
    )
    (presettlement,) = desk.expect("2303", check=totals_match(desk, stay))
    return discharge, presettlement


def settled(desk: Desk, stay: Stay) -> Seen:
    """出院【2402】 → 预结算【2303】 → 结算【2304】, each of this visit at the uploaded total."""
    discharged(desk, stay)
    (settlement,) = desk.expect("2304", check=totals_match(desk, stay))
    return settlement
