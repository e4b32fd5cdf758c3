"""Fee details at the treatment location: upload (2301 inpatient, 2204 outpatient) and cancellation
(2302/2205). Every line is classified with the province's own catalog (就医地目录: 甲/乙/丙, self-pay
share, price cap) as it arrives; the split is kept with the line for the settlement's category totals.

A line is kept as :meth:`Fees.upload` writes it (the visit's fee lines, treatment/visits.py); its answer
row (fee_result) is made from what is kept (:func:`result_line`), at the upload and where it is read
again (5204, the details sent after the fact), rather than kept beside it, which would double the
lines' size and every read and write of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ...specs.money import yuan
from ...world.topology import CatalogEntry, Item
from ..catalog import classify
from ..gateway import BusinessError, Context, Handler
from .visits import INPATIENT, OUTPATIENT, Treatment, not_ahead, step


class Fees:
    """The fee handlers of one treatment province."""

    def __init__(self, node: Treatment) -> None:
        self.node = node
        self.handlers: dict[str, Handler] = {}
        for kind in (INPATIENT, OUTPATIENT):
            self.handlers[kind.fees] = self.upload
            self.handlers[kind.cancel_fees] = self.cancel

    async def upload(self, ctx: Context) -> None:
        node, lines = self.node, ctx.input["feedetail"]
        mdtrt_ids = {line["mdtrt_id"] for line in lines}
        if len(mdtrt_ids) != 1:
            raise BusinessError("E4001", mdtrt_id="、".join(sorted(mdtrt_ids)))
        not_ahead(ctx, "feedetail", "fee_ocur_time")
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, mdtrt_ids.pop(), fees=True)
            thawed = visit.state in ("discharged", "settled") and (
                node.faults.mutant("accept-fees-after-discharge")
                or (not visit.cross and node.faults.mutant("lifecycle-cross-province-only"))
            )
            after = visit.state if thawed else step(node.spec, visit, ctx.infno)
            fees = visit.change_fees()
            if node.faults.mutant("last-fee-batch-only"):
                fees.clear()
            results = []
            stored = set(fees)  # the accept-duplicate-sn-in-batch mutant compares with these only
            for line in lines:
                sn = line["feedetl_sn"]
                entry = node.province.catalog.get(line["med_list_codg"])
                if entry is None and node.faults.mutant("accept-unlisted-items"):
                    entry = unlisted(line)
                if entry is None:
                    raise BusinessError("E5003", med_list_codg=line["med_list_codg"])
                seen = stored if node.faults.mutant("accept-duplicate-sn-in-batch") else fees
                if sn in seen and not node.faults.mutant("accept-duplicate-feedetl-sn"):
                    raise BusinessError("E4006", feedetl_sn=sn)
                original = line.get("init_feedetl_sn")
                if (
                    float(line["cnt"]) < 0
                    and (not original or fees.get(original, {}).get("status") != "active")
                    and not node.faults.mutant("accept-orphan-refund")
                ):
                    raise BusinessError("E4007", init_feedetl_sn=original or "（空）")
                if float(line["cnt"]) < 0 and node.faults.mutant("refund-counted-positive"):
                    line = {
                        k: -float(line[k]) if k in ("cnt", "det_item_fee_sumamt") else v
                        for k, v in line.items()
                    }
                if entry.chrgitm_lv == "02" and node.faults.mutant("yi-as-jia"):
                    entry = replace(entry, chrgitm_lv="01", selfpay_prop=Decimal(0))
                if node.faults.mutant("ignore-price-cap"):
                    entry = replace(entry, price_cap=None)
                even = node.faults.mutant("fee-split-bankers-rounding")
                split = classify(entry, line["cnt"], line["pric"], line["det_item_fee_sumamt"], even=even)
                if (
                    split.overlmt
                    and entry.chrgitm_lv == "02"
                    and node.faults.mutant("preselfpay-on-capped-amount")
                ):  # the share taken of the whole amount, the part above the cap included
                    pre = yuan(yuan(line["det_item_fee_sumamt"]) * entry.selfpay_prop)
                    split = replace(split, preselfpay=pre, inscp=split.inscp + split.preselfpay - pre)
                cap = entry.price_cap if entry.price_cap is not None else Decimal(str(line["pric"]))
                fees[sn] = fee = {
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
                    "cap": float(cap),
                    "prop": float(entry.selfpay_prop),
                    "medins_list_codg": line["medins_list_codg"],
                }
                results.append(result_line(sn, fee))
            node.save(conn, visit, after, ctx.infno)
            ctx.output = {"result": results}

    async def cancel(self, ctx: Context) -> None:
        node, data = self.node, ctx.input["data"]
        key, field = ("chrg_bchno", "batch") if ctx.infno == "2205" else ("feedetl_sn", None)
        with ctx.answer() as conn:
            visit = node.load(conn, ctx, data["mdtrt_id"], fees=True)
            step(
                node.spec, visit, ctx.infno, fees_remain=True
            )  # refuses settled visits (fees are frozen) first
            live = visit.live_fees()
            chosen = [
                f
                for sn, f in live.items()
                if (data[key] == "0000" and not node.faults.mutant("no-cancel-all-fees"))
                or (f.get(field) if field else sn) == data[key]
                or node.faults.mutant("cancel-fees-cancels-all")
            ]
            if not chosen:
                raise BusinessError("E4008")
            visit.change_fees()
            for f in chosen:
                f["status"] = "cancelled"
            after = step(node.spec, visit, ctx.infno, fees_remain=bool(visit.live_fees()))
            node.save(conn, visit, after, ctx.infno)


def result_line(sn: str, fee: Mapping[str, Any]) -> dict[str, Any]:
    """The 2301/2204 answer row (fee_result) of a line as it is kept (see the module); a line kept before
    the row was made again kept the row itself."""
    if "result" in fee:
        return dict(fee["result"])
    # the amounts are kept as Decimal's text, to the cent: float of the text is float of the Decimal
    fulamt_ownpay, overlmt, preselfpay, inscp = map(float, fee["split"])
    return {
        "feedetl_sn": sn,
        "det_item_fee_sumamt": float(fee["amount"]),
        "cnt": fee["cnt"],
        "pric": fee["pric"],
        "pric_uplmt_amt": fee["cap"],
        "selfpay_prop": fee["prop"],
        "fulamt_ownpay_amt": fulamt_ownpay,
        "overlmt_amt": overlmt,
        "preselfpay_amt": preselfpay,
        "inscp_scp_amt": inscp,
        "chrgitm_lv": fee["lv"],
        "med_chrgitm_type": fee["type"],
        "bas_medn_flag": "0",
        "hi_nego_drug_flag": "0",
        "chld_medc_flag": "0",
        "list_sp_item_flag": "0",
        "lmt_used_flag": "0",
        "drt_reim_flag": "0",
        "memo": None,
    }


def unlisted(line: Mapping[str, Any]) -> CatalogEntry:
    """An item outside the catalog as the accept-unlisted-items mutant takes it: 丙类, self-paid in full."""
    item = Item(line["med_list_codg"], line.get("medins_list_name") or "目录外项目", "14", "201", Decimal(0))
    return CatalogEntry(item, "03", Decimal(1), None)
