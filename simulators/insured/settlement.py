"""Settlement at the insured location: its own benefit policy applied to the category totals it receives
(Y2303 trial, Y2304 settlement), year-to-date usage and the personal account kept, and all of it undone on
cancellation (Y2305) or reversal (Y2601): the answer then is the exact negative of the settlement's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from ...specs import money
from ...specs.envelope import datetime_text
from ...specs.model import Spec
from ...specs.money import ZERO, cents, of_cents, wire, yuan
from ...world.policy import Adjustment, Who
from ...world.topology import Person, dedc_level
from ..benefits import Claim, Result, Usage, settle, usage_of
from ..catalog import Split
from ..gateway import BusinessError, Context
from ..store import insured_settlements
from .records import Insured


class Settlement:
    """The Y2303, Y2304, Y2305 and Y2601 handlers of one insured province."""

    def __init__(self, node: Insured) -> None:
        self.node = node
        self.handlers = {
            "Y2303": self.presettle,
            "Y2304": self.settle,
            "Y2305": self.cancel_settlement,
            "Y2601": self.reverse,
        }

    # ── Y2303 / Y2304 ──────────────────────────────────────────────

    def compute(
        self, conn: Connection, ctx: Context
    ) -> tuple[Person, int, dict[str, Any], Result, dict[str, Any], tuple[int, str]]:
        """The settlement the category totals of ``ctx`` are worth to the person: their policy on the stay's
        counting day, their usage that year; with the answer, and the year and setting it counts in."""
        node = self.node
        s = ctx.input["setlinfo"]
        person = node.person(s["psn_no"])
        visit = node.visit(conn, s["mdtrt_id"])
        settled_again = visit.state == "settled" and (
            node.faults.mutant("pay-twice-on-retry") or node.faults.mutant("settle-settled-visit")
        )
        if visit.state not in ("registered",) and not settled_again:
            raise BusinessError(
                "E4002", mdtrt_id=s["mdtrt_id"], state=visit.state, infno=ctx.infno, name="跨省结算"
            )
        version, doc = node.settling_state(conn, person.psn_no)
        if doc["insu_stas"] != "1":
            raise BusinessError("E3006", psn_no=person.psn_no)
        filing = node.filing_for(person, doc, s["mdtrtarea_admdvs"], ctx.now.date(), s["med_type"])
        policy = node.policy(person)
        year_by = "admission" if node.faults.mutant("year-by-admission-day") else policy.year
        day = counting_day(year_by, s.get("begntime"), ctx.now)
        terms = policy.on(day)
        if s["mdtrtarea_admdvs"][:2] != node.admdvs[:2] and node.faults.mutant(
            "adjustments-ignored-cross-province"
        ):  # the adjustments for who the person is kept for local care
            terms = replace(terms, adjustments=())
        setting = setting_of(s["med_type"])
        split = Split(
            yuan(s["fulamt_ownpay_amt"]),
            yuan(s["overlmt_selfpay"]),
            yuan(s["preselfpay_amt"]),
            yuan(s["inscp_scp_amt"]),
        )
        if split.total != yuan(s["medfee_sumamt"]):
            raise BusinessError(
                "E5001", rule="R-AMT-01", detail=f"医疗费总额{s['medfee_sumamt']}≠分项合计{split.total}"
            )
        year = policy.insurance_year(day)
        used = usage_of(doc["ytd"].get(str(year), {}))
        if node.faults.mutant("ignore-deductible"):  # as if every person's deductible were waived
            terms = replace(terms, adjustments=(*terms.adjustments, Adjustment(Who(), deductible=ZERO)))
        if node.faults.mutant("ignore-annual-cap"):  # the year's pooled-fund usage is forgotten
            used[f"cap:{terms.setting(setting).cap}"] = ZERO
        use_account = s["acct_used_flag"] == "1" or node.faults.mutant("account-always-used")
        if ctx.infno == "Y2303" and node.faults.mutant("presettle-ignores-account"):
            use_account = False
        claim = Claim(
            yuan(s["medfee_sumamt"]),
            split,
            "3" if node.faults.mutant("ratio-ignores-level") else dedc_level(s["hosp_lv"]),
            setting,
            use_account,
            None if node.faults.mutant("no-temporary-reduction") else filing.get("fil_type"),
        )
        balance = yuan(doc["balance"])
        if node.faults.mutant("account-overdraft"):  # as if the balance covered any personal share
            balance = max(balance, claim.medfee)
        even = node.faults.mutant("pool-bankers-rounding")  # half to even, as .NET's Math.Round
        result = settle(terms, claim, person.patient(day), used, balance, even=even)
        output = self.settlement_output(person, {"medins_setl_id": ctx.msgid, **s}, result, ctx.now)
        return person, version, doc, result, output, (year, setting)

    def settlement_output(self, p: Person, s: Mapping[str, Any], r: Result, now: datetime) -> dict[str, Any]:
        names = self.node.spec.codes["fund_pay_type"].values
        funds = dict.fromkeys(
            ("cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay"), ZERO
        )
        pooled = {r.lines[0].fund_pay_type: r.hifp_pay}  # the pooled fund first (its line is the first)
        for code, paid in (*pooled.items(), *r.funds.items()):
            field = FUND_FIELDS.get(code, "oth_pay")
            funds[field] = funds.get(field, ZERO) + paid
        setlinfo = {
            "mdtrt_id": s["mdtrt_id"],
            "setl_id": s.get("setl_id"),
            "psn_no": p.psn_no,
            "psn_name": p.name,
            "psn_cert_type": "01",
            "certno": p.certno,
            "gend": p.gend,
            "naty": p.naty,
            "brdy": p.brdy.isoformat(),
            "age": float(p.age(now.date())),
            "insutype": p.insutype,
            "psn_type": p.psn_type,
            "cvlserv_flag": p.cvlserv_flag,
            "setl_time": datetime_text(now),
            "mdtrt_cert_type": None,
            "med_type": s["med_type"],
            "medfee_sumamt": wire(s["medfee_sumamt"]),
            "fulamt_ownpay_amt": wire(s["fulamt_ownpay_amt"]),
            "overlmt_selfpay": wire(s["overlmt_selfpay"]),
            "preselfpay_amt": wire(s["preselfpay_amt"]),
            "inscp_scp_amt": wire(s["inscp_scp_amt"]),
            "act_pay_dedc": wire(r.act_pay_dedc),
            "hifp_pay": wire(funds.pop("hifp_pay", ZERO)),
            "pool_prop_selfpay": float(r.ratio),
            **{k: wire(v) for k, v in funds.items()},
            "hosp_part_amt": 0.0,
            "fund_pay_sumamt": wire(r.fund_pay_sumamt),
            "psn_part_amt": wire(r.psn_part_amt),
            "acct_pay": wire(r.acct_pay),
            "psn_cash_pay": wire(
                r.psn_part_amt if self.node.faults.mutant("cash-ignores-account") else r.psn_cash_pay
            ),
            "balc": wire(r.balance_after),
            "acct_mulaid_pay": 0.0,
            "medins_setl_id": s.get("medins_setl_id"),
            "clr_optins": s["mdtrtarea_admdvs"][:2] + "0000",
            "clr_way": "1",
            "clr_type": "11" if s["med_type"].startswith("1") else "21",
        }
        setldetail = [
            {
                "fund_pay_type": line.fund_pay_type,
                "inscp_scp_amt": wire(line.inscp),
                "crt_payb_lmt_amt": wire(line.limit),
                "fund_payamt": wire(line.paid),
                "fund_pay_type_name": names.get(line.fund_pay_type, ""),
                "setl_proc_info": "；".join(r.notes)[:4000],
            }
            for line in r.lines
        ]
        return {"setlinfo": setlinfo, "setldetail": setldetail}

    async def presettle(self, ctx: Context) -> None:
        with ctx.answer() as conn:
            ctx.output = self.compute(conn, ctx)[4]
            del ctx.output["setlinfo"]["setl_id"]

    async def settle(self, ctx: Context) -> None:
        node = self.node
        s = ctx.input["setlinfo"]
        with ctx.answer() as conn:
            person, version, doc, result, ctx.output, (year, setting) = self.compute(conn, ctx)
            if node.faults.mutant("insured-answer-unbalanced"):  # a cent the funds do not add up to
                ctx.output["setlinfo"]["fund_pay_sumamt"] = round(
                    ctx.output["setlinfo"]["fund_pay_sumamt"] + 0.01, 2
                )
            self.apply(doc, year, result.usage, -result.acct_pay)
            node.save(conn, person.psn_no, version, doc)
            key = (
                f"{ctx.msgid}#again"
                if node.faults.mutant("pay-twice-on-retry")
                and conn.execute(
                    select(insured_settlements.c.msgid).where(insured_settlements.c.msgid == ctx.msgid)
                ).first()
                else ctx.msgid
            )
            node.store.q.insured_book.run(
                conn,
                node=node.name,
                msgid=key,
                setl_id=s["setl_id"],
                kind="settle",
                mdtrt_id=s["mdtrt_id"],
                psn_no=person.psn_no,
                year=year,
                setting=setting,
                fund=cents(result.fund_pay_sumamt),
                acct=cents(result.acct_pay),
                status="active",
                sim_time=ctx.now,
                # what was asked (the claim), what it used of the year, what was answered: the books a
                # replay after a run recomputes (tests/load: the oracle over a load run)
                doc={"claim": s, "usage": {k: str(v) for k, v in result.usage.items()}, "answer": ctx.output},
            )
            node.set_visit(conn, s["mdtrt_id"], "settled")
            ctx.effect = {"setl_id": s["setl_id"]}

    @staticmethod
    def apply(doc: dict[str, Any], year: int, usage: Usage, balance_change: Decimal) -> None:
        """Add a settlement's usage to the year (negative usage to roll it back) and move the account."""
        years = doc.setdefault("ytd", {})
        years[str(year)] = {k: str(v) for k, v in (usage_of(years.get(str(year), {})) + usage).items() if v}
        doc["balance"] = str(yuan(doc["balance"]) + balance_change)

    # ── Y2305 ──────────────────────────────────────────────────────

    def active_settlement(self, conn: Connection, setl_id: str, mdtrt_id: str) -> Any:
        row = self.node.store.q.insured_in_force.first(
            conn, k_node=self.node.name, k_setl_id=setl_id, k_kind="settle", k_status="active"
        )
        if row is None or (
            row.mdtrt_id != mdtrt_id and not self.node.faults.mutant("cancel-ignores-mdtrt-id")
        ):
            raise BusinessError("E4005", setl_id=setl_id, mdtrt_id=mdtrt_id)
        return row

    def undo_settlement(self, conn: Connection, row: Any, status: str) -> dict[str, Any]:
        """Roll a settlement back: usage, account, status; the answer's amounts negated."""
        node = self.node
        version, doc = node.state(conn, row.psn_no)
        usage = usage_of(row.doc["usage"])
        if status == "cancelled" and node.faults.mutant("cancel-keeps-stay-count"):
            usage = Usage({k: v for k, v in usage.items() if not k.startswith("stays:")})
        if not (
            (status == "cancelled" and node.faults.mutant("no-ytd-rollback"))
            or (status == "reversed" and node.faults.mutant("reversal-keeps-usage"))
        ):
            kept = node.faults.mutant("keep-account-on-cancel") or (
                status == "reversed" and node.faults.mutant("reversal-keeps-account")
            )
            refund = ZERO if kept else of_cents(row.acct)
            self.apply(doc, row.year, -usage, refund)
        else:
            doc["balance"] = str(yuan(doc["balance"]) + of_cents(row.acct))
        node.save(conn, row.psn_no, version, doc)
        node.store.q.set_insured_settlement.run(conn, k_node=node.name, k_msgid=row.msgid, status=status)
        node.set_visit(conn, row.mdtrt_id, "registered")
        return negate(node.spec, row.doc["answer"], balc=wire(doc["balance"]))  # the balance once restored

    def redo_settlement(self, conn: Connection, row: Any) -> None:
        """Re-apply a settlement whose cancellation was reversed."""
        node = self.node
        version, doc = node.state(conn, row.psn_no)
        self.apply(doc, row.year, usage_of(row.doc["usage"]), -of_cents(row.acct))
        node.save(conn, row.psn_no, version, doc)
        node.store.q.set_insured_settlement.run(conn, k_node=node.name, k_msgid=row.msgid, status="active")
        node.set_visit(conn, row.mdtrt_id, "settled")

    async def cancel_settlement(self, ctx: Context) -> None:
        node = self.node
        data = ctx.input["data"]
        with ctx.answer() as conn:
            row = self.active_settlement(conn, data["setl_id"], data["mdtrt_id"])
            negative = self.undo_settlement(conn, row, "cancelled")
            node.store.q.insured_book.run(
                conn,
                node=node.name,
                msgid=ctx.msgid,
                setl_id=row.setl_id,
                kind="cancel",
                mdtrt_id=row.mdtrt_id,
                psn_no=row.psn_no,
                year=row.year,
                setting=row.setting,
                fund=-row.fund,
                acct=-row.acct,
                status="active",
                sim_time=ctx.now,
                doc={"of": row.msgid, "answer": negative},
            )
            ctx.effect = {"of": row.msgid}
            negative["setlinfo"]["setl_time"] = datetime_text(ctx.now)
            if node.faults.mutant("cancel-answer-not-negated"):  # the settlement's amounts, signs kept
                kept = {k: v for k, v in row.doc["answer"]["setlinfo"].items() if k in amounts(node.spec)}
                negative = {**row.doc["answer"], "setlinfo": {**negative["setlinfo"], **kept}}
            ctx.output = _pick_cancel_output(node.spec, "Y2305", negative)

    # ── Y2601 ──────────────────────────────────────────────────────

    async def reverse(self, ctx: Context) -> None:
        node, q = self.node, self.node.store.q
        data = ctx.input["data"]
        with ctx.answer() as conn:
            original = q.answered.first(conn, k_node=node.name, k_msgid=data["omsgid"])
            if (
                original is None
                or original.infno != data["oinfno"]
                or original.response.get("infcode") not in (0, "0")
            ):
                raise BusinessError("E6002", oinfno=data["oinfno"], omsgid=data["omsgid"])
            if original.infno not in ("Y2401", "Y2304", "Y2305"):
                raise BusinessError("E6003", oinfno=data["oinfno"])
            if original.reversed_by:
                raise BusinessError("E6004", omsgid=data["omsgid"])
            if original.infno == "Y2401":
                visit = node.visit(conn, original.effect["mdtrt_id"])
                if visit.state != "registered":
                    raise BusinessError(
                        "E4002", mdtrt_id=visit.mdtrt_id, state=visit.state, infno="Y2601", name="冲正"
                    )
                node.set_visit(conn, visit.mdtrt_id, "cancelled")
            elif original.infno == "Y2304":
                row = self.row(conn, original.msgid)
                if row.status != "active":
                    raise BusinessError(
                        "E4002", mdtrt_id=row.mdtrt_id, state=row.status, infno="Y2601", name="冲正"
                    )
                self.undo_settlement(conn, row, "reversed")
            else:  # Y2305: the cancellation never happened
                cancellation = self.row(conn, original.msgid)
                if not node.faults.mutant("cancel-reversal-not-restored"):
                    self.redo_settlement(conn, self.row(conn, cancellation.doc["of"]))
                q.set_insured_settlement.run(
                    conn, k_node=node.name, k_msgid=original.msgid, status="reversed"
                )
            q.reversed_by.run(conn, k_node=node.name, k_msgid=original.msgid, reversed_by=ctx.msgid)

    def row(self, conn: Connection, msgid: str) -> Any:
        """The book's entry of the settlement (or its cancellation) the message ``msgid`` made."""
        row = self.node.store.q.insured_settlement.first(conn, k_node=self.node.name, k_msgid=msgid)
        assert row is not None, msgid  # a message answered with a settlement booked it
        return row


# Which setlinfo field a fund's payment lands in: the interface's fact, not the policy's
# Which setlinfo field a fund's payment lands in (world/README.md): a 离休 (340100) or other special fund's
# pooled payment is not the basic insurance's hifp_pay
FUND_FIELDS = {
    "310100": "hifp_pay",
    "390100": "hifp_pay",
    "320100": "cvlserv_pay",
    "330100": "hifob_pay",
    "390200": "hifmi_pay",
    "370100": "hifes_pay",
    "610100": "maf_pay",
}


def setting_of(med_type: str) -> str:
    """The policy's care setting of a 医疗类别: 门诊慢特病 (14), another outpatient type, or inpatient."""
    return "chronic" if med_type == "14" else "outpatient" if med_type.startswith("1") else "inpatient"


def counting_day(year: str, begntime: Any, now: datetime) -> date:
    """The day a stay counts on: its admission or its settlement (the policy's ``year``)."""
    if year == "admission" and begntime:
        return datetime.fromisoformat(str(begntime).replace(" ", "T")).date()
    return now.date()


def amounts(spec: Spec) -> frozenset[str]:
    """The amounts a settlement moves: the spec's money fields but the balance after (a state, not a flow)."""
    return money.fields(spec) - {money.BALANCE}


def negate(spec: Spec, answer: Mapping[str, Any], **override: Any) -> dict[str, Any]:
    """A settlement answer with every amount negated (R-AMT-11): what a cancellation or reversal returns."""
    moved = amounts(spec)
    setlinfo = {
        k: (-v if k in moved and isinstance(v, int | float) and v else v)
        for k, v in answer["setlinfo"].items()
    }
    setldetail = [
        {**line, "inscp_scp_amt": -line["inscp_scp_amt"], "fund_payamt": -line["fund_payamt"]}
        for line in answer.get("setldetail", [])
    ]
    return {"setlinfo": {**setlinfo, **override}, "setldetail": setldetail}


def _pick_cancel_output(spec: Spec, infno: str, answer: Mapping[str, Any]) -> dict[str, Any]:
    fields = spec.transaction(infno).output["setlinfo"].fields
    return {
        "setlinfo": {k: v for k, v in answer["setlinfo"].items() if k in fields},
        "setldetail": answer["setldetail"],
    }
