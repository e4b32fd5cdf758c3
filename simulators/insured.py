"""The insured location (参保地): answers person lookups, checks cards and filings, applies its own
benefit policy to the category totals it receives, keeps year-to-date usage and personal accounts,
and undoes all of it on cancellation or reversal. It also keeps the filings (备案) its insured file.

It serves the province↔hub interface (Y-transactions): from the hub for patients treated in other
provinces, and in-process from its own province's treatment face for local patients.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from ..specs import money
from ..specs.envelope import datetime_text
from ..specs.model import Spec
from ..specs.money import ZERO, cents, of_cents, wire, yuan
from ..world import identity
from ..world.topology import Account, Person, Province, dedc_level
from .benefits import Claim, Result, Usage, settle
from .catalog import Split
from .gateway import BusinessError, Context, Node, World
from .links import Serials
from .store import insured_settlements, message_key, messages, persons

EMERGENCY_MED_TYPES = frozenset({"13", "24"})  # 急诊, 急诊转住院: deemed filed (视同已备案)


def age(born: date, on: date) -> float:
    return float(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))


def initial_state(person: Person) -> dict[str, Any]:
    return {
        "balance": str(person.account_balance),
        "card_status": person.card.status,
        "insu_stas": person.psn_insu_stas,
        "ytd": {
            str(year): {"inpatient": {k: str(v) for k, v in used.items()}}
            for year, used in person.ytd.items()
        },
        "filings": [
            {
                "sn": f.sn,
                "fil_type": f.fil_type,
                "mdtrtarea": f.mdtrtarea,
                "begndate": f.begndate.isoformat(),
                "enddate": f.enddate.isoformat() if f.enddate else None,
                "status": f.status,
            }
            for f in person.filings
        ],
    }


class InsuredNode(Node):
    pays = True

    def __init__(self, province: Province, world: World, accounts: Mapping[str, Account]) -> None:
        super().__init__(f"insured:{province.admdvs}", province.admdvs, world, accounts)
        self.province, self.topology = province, world.topology
        self.people = {p.psn_no: p for p in self.topology.persons.values() if p.province == province.admdvs}
        self.filing_sn = Serials(self.store, f"{self.name}:filing")
        for infno, handler in {
            "Y1101": self.person_info,
            "Y2401": self.admit,
            "Y2404": self.cancel_admission,
            "Y2303": self.presettle,
            "Y2304": self.settle,
            "Y2305": self.cancel_settlement,
            "Y2601": self.reverse,
            "Y2301": self.receive_details,
            "Y2501": self.file,
            "Y2502": self.change_filing,
            "Y2503": self.revoke_filing,
            "Y2504": self.query_filings,
        }.items():
            self.handlers[infno] = self._faulty(infno, handler)
        with self.store.begin() as conn:
            known = set(conn.execute(select(persons.c.psn_no).where(persons.c.node == self.name)).scalars())
            rows = [
                {"node": self.name, "psn_no": p.psn_no, "version": 0, "doc": initial_state(p)}
                for p in self.people.values()
                if p.psn_no not in known
            ]
            if rows:
                conn.execute(persons.insert(), rows)

    def _faulty(self, infno: str, handler: Any) -> Any:
        async def run(ctx: Context) -> None:
            if infno not in ("Y1101", "Y2504") and self.faults.take("insured-error", self.name, infno):
                raise BusinessError("E6009", detail="参保地系统异常（故障注入）")
            await handler(ctx)

        return run

    # ── persons ────────────────────────────────────────────────────

    def person(self, psn_no: str) -> Person:
        person = self.people.get(psn_no)
        if person is None:
            raise BusinessError("E3001", psn_no=psn_no)
        return person

    def by_credential(self, data: Mapping[str, Any]) -> Person:
        kind, number = str(data.get("mdtrt_cert_type")), str(data.get("mdtrt_cert_no"))
        for p in self.people.values():
            if (
                (kind == "01" and number == identity.ectoken(p.psn_no))
                or (kind == "02" and number == p.certno)
                or (kind == "03" and number == p.card.cardno)
            ):
                return p
        raise BusinessError("E3001", psn_no=number)

    def state(self, conn: Connection, psn_no: str) -> tuple[int, dict[str, Any]]:
        row = self.store.q.person.first(conn, k_node=self.name, k_psn_no=psn_no)
        assert row is not None, psn_no
        return row.version, dict(row.doc)

    def save(self, conn: Connection, psn_no: str, version: int, doc: dict[str, Any]) -> None:
        done = self.store.q.save_person.run(
            conn, version=version + 1, doc=doc, k_node=self.name, k_psn_no=psn_no, k_version=version
        )
        if done != 1:
            raise BusinessError("E6005", mdtrt_id=psn_no)

    def check_card(self, person: Person, data: Mapping[str, Any], doc: Mapping[str, Any]) -> None:
        if data.get("mdtrt_cert_type") != "03":
            if doc["card_status"] != "1" and self.faults.mutant("lost-card-blocks-all-credentials"):
                raise BusinessError("E3005")
            return
        if doc["card_status"] != "1" and not self.faults.mutant("accept-lost-card"):
            raise BusinessError("E3005")
        unchecked = self.faults.mutant("skip-card-sn-check") or (
            not data.get("card_sn") and self.faults.mutant("card-sn-optional")  # reads no card_sn at all
        )
        if data.get("card_sn") != person.card.card_sn and not unchecked:
            raise BusinessError("E3007")

    def filing_for(
        self, person: Person, doc: Mapping[str, Any], area: str, day: date, med_type: str
    ) -> dict[str, Any]:
        """The filing that allows direct settlement here, or the refusal that says why not."""
        if area[:2] == self.admdvs[:2] or self.faults.mutant("skip-filing-check"):
            return {}  # local care needs no filing
        live = [f for f in doc["filings"] if f["status"] == "1"]
        if self.faults.mutant("temporary-filing-unknown"):  # an old platform knowing types 1–3 only
            live = [f for f in live if f["fil_type"] not in ("4", "5", "6")]
        here = [
            f
            for f in live
            if area == f["mdtrtarea"] or (f["mdtrtarea"].endswith("0000") and f["mdtrtarea"][:2] == area[:2])
        ]
        valid: list[dict[str, Any]] = [
            f
            for f in here
            if date.fromisoformat(f["begndate"]) <= day
            and (f["enddate"] is None or day <= date.fromisoformat(f["enddate"]))
        ]
        if valid:
            return valid[0]
        if med_type in EMERGENCY_MED_TYPES:
            return {"sn": "", "fil_type": "6"}  # 异地急诊抢救: deemed filed
        if here:
            raise BusinessError("E3003", psn_no=person.psn_no, enddate=here[-1]["enddate"])
        if live:
            raise BusinessError("E3004", psn_no=person.psn_no, filed=live[-1]["mdtrtarea"], mdtrtarea=area)
        raise BusinessError("E3002", psn_no=person.psn_no)

    # ── Y1101 ──────────────────────────────────────────────────────

    async def person_info(self, ctx: Context) -> None:
        data = ctx.input["data"]
        person = self.by_credential(data)
        with ctx.answer() as conn:
            _, doc = self.state(conn, person.psn_no)
            self.check_card(person, data, doc)
            ctx.output = self.person_output(person, doc, ctx.now)

    def person_output(self, p: Person, doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        return {
            "baseinfo": {
                "psn_no": p.psn_no,
                "psn_cert_type": "01",
                "certno": p.certno,
                "psn_name": p.name,
                "gend": p.gend,
                "naty": p.naty,
                "brdy": p.brdy.isoformat(),
                "age": age(p.brdy, now.date()),
            },
            "insuinfo": [
                {
                    "balc": wire(doc["balance"]),
                    "insutype": p.insutype,
                    "psn_type": p.psn_type,
                    "psn_insu_stas": doc["insu_stas"],
                    "psn_insu_date": None,
                    "paus_insu_date": p.paus_insu_date.isoformat() if p.paus_insu_date else None,
                    "cvlserv_flag": p.cvlserv_flag,
                    "insuplc_admdvs": p.insuplc_admdvs,
                    "emp_name": p.emp_name,
                }
            ],
            "filinginfo": [
                {
                    "trt_dcla_detl_sn": f["sn"],
                    "psn_no": p.psn_no,
                    "fil_type": f["fil_type"],
                    "insutype": p.insutype,
                    "mdtrtarea_admdvs": f["mdtrtarea"],
                    "begndate": f["begndate"],
                    "enddate": f["enddate"],
                    "fil_stas": f["status"],
                }
                for f in ([] if self.faults.mutant("person-info-without-filings") else doc["filings"])
            ],
            "cardinfo": {"cardno": p.card.cardno, "card_sn": p.card.card_sn, "card_stas": doc["card_status"]},
        }

    # ── Y2401 / Y2404 ──────────────────────────────────────────────

    async def admit(self, ctx: Context) -> None:
        info = ctx.input["mdtrtinfo"]
        person = self.person(info["psn_no"])
        if info["insutype"] != person.insutype:
            raise BusinessError("E3010", psn_no=person.psn_no, insutype=info["insutype"])
        with ctx.answer() as conn:
            _, doc = self.state(conn, person.psn_no)
            self.check_card(person, info, doc)
            if doc["insu_stas"] != "1" and not self.faults.mutant("ignore-suspended-insurance"):
                raise BusinessError("E3006", psn_no=person.psn_no)
            if self.store.q.insured_visit.first(conn, k_node=self.name, k_mdtrt_id=info["mdtrt_id"]):
                raise BusinessError("E4004", psn_no=person.psn_no, mdtrt_id=info["mdtrt_id"])
            try:  # admission does not need a filing: one may be made before discharge settlement
                filing = self.filing_for(
                    person, doc, info["mdtrtarea_admdvs"], ctx.now.date(), info["med_type"]
                )
            except BusinessError:
                filing = {}
            self.store.q.new_insured_visit.run(
                conn,
                node=self.name,
                mdtrt_id=info["mdtrt_id"],
                psn_no=person.psn_no,
                treatment=info["mdtrtarea_admdvs"][:2] + "0000",
                state="registered",
                doc={"fixmedins_code": info["fixmedins_code"], "med_type": info["med_type"]},
                sim_time=ctx.now,
            )
            ctx.effect = {"mdtrt_id": info["mdtrt_id"]}
            ctx.output = {
                "result": {
                    "mdtrt_id": info["mdtrt_id"],
                    "trt_dcla_detl_sn": filing.get("sn") or None,
                    "fil_type": filing.get("fil_type"),
                }
            }

    def visit(self, conn: Connection, mdtrt_id: str) -> Any:
        row = self.store.q.insured_visit.first(conn, k_node=self.name, k_mdtrt_id=mdtrt_id)
        if row is None:
            raise BusinessError("E4001", mdtrt_id=mdtrt_id)
        return row

    def set_visit(self, conn: Connection, mdtrt_id: str, state: str) -> None:
        self.store.q.set_insured_visit.run(conn, state=state, k_node=self.name, k_mdtrt_id=mdtrt_id)

    async def cancel_admission(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            visit = self.visit(conn, data["mdtrt_id"])
            if visit.state != "registered":
                raise BusinessError(
                    "E4002",
                    mdtrt_id=data["mdtrt_id"],
                    state=visit.state,
                    infno="Y2404",
                    name="跨省入院登记撤销",
                )
            self.set_visit(conn, data["mdtrt_id"], "cancelled")

    # ── Y2303 / Y2304 / Y2305 ──────────────────────────────────────

    def compute(
        self, conn: Connection, ctx: Context
    ) -> tuple[Person, int, dict[str, Any], Result, dict[str, Any]]:
        s = ctx.input["setlinfo"]
        person = self.person(s["psn_no"])
        visit = self.visit(conn, s["mdtrt_id"])
        settled_again = visit.state == "settled" and self.faults.mutant("pay-twice-on-retry")
        if visit.state not in ("registered",) and not settled_again:
            raise BusinessError(
                "E4002", mdtrt_id=s["mdtrt_id"], state=visit.state, infno=ctx.infno, name="跨省结算"
            )
        version, doc = self.state(conn, person.psn_no)
        if doc["insu_stas"] != "1":
            raise BusinessError("E3006", psn_no=person.psn_no)
        filing = self.filing_for(person, doc, s["mdtrtarea_admdvs"], ctx.now.date(), s["med_type"])
        outpatient = s["med_type"].startswith("1")
        setting = "outpatient" if outpatient else "inpatient"
        policy = self.province.policies[person.insutype]
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
        ytd = doc["ytd"].get(str(ctx.now.year), {}).get(setting, {})
        used = Usage(**{k: yuan(v) for k, v in ytd.items()})
        if self.faults.mutant("ignore-deductible"):
            used = Usage(Decimal(10**9), used.pool, used.supp)
        if self.faults.mutant("ignore-annual-cap"):  # the year's pooled-fund usage is forgotten
            used = Usage(used.deductible, ZERO, used.supp)
        use_account = s["acct_used_flag"] == "1" or self.faults.mutant("account-always-used")
        if ctx.infno == "Y2303" and self.faults.mutant("presettle-ignores-account"):
            use_account = False
        claim = Claim(
            yuan(s["medfee_sumamt"]),
            split,
            "3" if self.faults.mutant("ratio-ignores-level") else dedc_level(s["hosp_lv"]),
            outpatient,
            use_account,
            None if self.faults.mutant("no-temporary-reduction") else filing.get("fil_type"),
        )
        balance = yuan(doc["balance"])
        if self.faults.mutant("account-overdraft"):  # as if the balance covered any personal share
            balance = max(balance, claim.medfee)
        result = settle(policy, claim, retired=person.retired, used=used, balance=balance)
        output = self.settlement_output(person, {"medins_setl_id": ctx.msgid, **s}, result, ctx.now)
        return person, version, doc, result, output

    def settlement_output(self, p: Person, s: Mapping[str, Any], r: Result, now: datetime) -> dict[str, Any]:
        supp = {"hifob_pay": 0.0, "hifmi_pay": 0.0}
        if r.supp_pay:
            supp["hifob_pay" if r.supp_fund == "330100" else "hifmi_pay"] = wire(r.supp_pay)
        names = self.spec.codes["fund_pay_type"].values
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
            "age": age(p.brdy, now.date()),
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
            "hifp_pay": wire(r.hifp_pay),
            "pool_prop_selfpay": float(r.ratio),
            "cvlserv_pay": 0.0,
            "hifes_pay": 0.0,
            **supp,
            "maf_pay": 0.0,
            "hosp_part_amt": 0.0,
            "oth_pay": 0.0,
            "fund_pay_sumamt": wire(r.fund_pay_sumamt),
            "psn_part_amt": wire(r.psn_part_amt),
            "acct_pay": wire(r.acct_pay),
            "psn_cash_pay": wire(
                r.psn_part_amt if self.faults.mutant("cash-ignores-account") else r.psn_cash_pay
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
            *_, ctx.output = self.compute(conn, ctx)
            del ctx.output["setlinfo"]["setl_id"]

    async def settle(self, ctx: Context) -> None:
        s = ctx.input["setlinfo"]
        with ctx.answer() as conn:
            person, version, doc, result, ctx.output = self.compute(conn, ctx)
            if self.faults.mutant("insured-answer-unbalanced"):  # a cent the funds do not add up to
                ctx.output["setlinfo"]["fund_pay_sumamt"] = round(
                    ctx.output["setlinfo"]["fund_pay_sumamt"] + 0.01, 2
                )
            setting = "outpatient" if s["med_type"].startswith("1") else "inpatient"
            self.apply(doc, ctx.now.year, setting, result.usage, -result.acct_pay)
            self.save(conn, person.psn_no, version, doc)
            key = (
                f"{ctx.msgid}#again"
                if self.faults.mutant("pay-twice-on-retry")
                and conn.execute(
                    select(insured_settlements.c.msgid).where(insured_settlements.c.msgid == ctx.msgid)
                ).first()
                else ctx.msgid
            )
            self.store.q.insured_book.run(
                conn,
                node=self.name,
                msgid=key,
                setl_id=s["setl_id"],
                kind="settle",
                mdtrt_id=s["mdtrt_id"],
                psn_no=person.psn_no,
                year=ctx.now.year,
                setting=setting,
                fund=cents(result.fund_pay_sumamt),
                acct=cents(result.acct_pay),
                status="active",
                sim_time=ctx.now,
                doc={"usage": _usage_doc(result.usage), "answer": ctx.output},
            )
            self.set_visit(conn, s["mdtrt_id"], "settled")
            ctx.effect = {"setl_id": s["setl_id"]}

    @staticmethod
    def apply(doc: dict[str, Any], year: int, setting: str, usage: Usage, balance_change: Decimal) -> None:
        """Add a settlement's usage to the year (negative usage to roll it back) and move the account."""
        years = doc.setdefault("ytd", {})
        current = years.setdefault(str(year), {}).setdefault(setting, {})
        for key, delta in _usage_doc(usage).items():
            current[key] = str(yuan(current.get(key, "0")) + yuan(delta))
        doc["balance"] = str(yuan(doc["balance"]) + balance_change)

    def active_settlement(self, conn: Connection, setl_id: str, mdtrt_id: str) -> Any:
        row = conn.execute(
            select(insured_settlements).where(
                insured_settlements.c.node == self.name,
                insured_settlements.c.setl_id == setl_id,
                insured_settlements.c.kind == "settle",
                insured_settlements.c.status == "active",
            )
        ).first()
        if row is None or row.mdtrt_id != mdtrt_id:
            raise BusinessError("E4005", setl_id=setl_id, mdtrt_id=mdtrt_id)
        return row

    def undo_settlement(self, conn: Connection, row: Any, status: str) -> dict[str, Any]:
        """Roll a settlement back: usage, account, status; the answer's amounts negated."""
        version, doc = self.state(conn, row.psn_no)
        usage = Usage(**{k: yuan(v) for k, v in row.doc["usage"].items()})
        if not (
            (status == "cancelled" and self.faults.mutant("no-ytd-rollback"))
            or (status == "reversed" and self.faults.mutant("reversal-keeps-usage"))
        ):
            refund = ZERO if self.faults.mutant("keep-account-on-cancel") else of_cents(row.acct)
            self.apply(doc, row.year, row.setting, -usage, refund)
        else:
            doc["balance"] = str(yuan(doc["balance"]) + of_cents(row.acct))
        self.save(conn, row.psn_no, version, doc)
        conn.execute(
            update(insured_settlements)
            .where(insured_settlements.c.node == self.name, insured_settlements.c.msgid == row.msgid)
            .values(status=status)
        )
        self.set_visit(conn, row.mdtrt_id, "registered")
        return negate(self.spec, row.doc["answer"], balc=wire(doc["balance"]))  # the balance once restored

    def redo_settlement(self, conn: Connection, row: Any) -> None:
        """Re-apply a settlement whose cancellation was reversed."""
        version, doc = self.state(conn, row.psn_no)
        self.apply(
            doc,
            row.year,
            row.setting,
            Usage(**{k: yuan(v) for k, v in row.doc["usage"].items()}),
            -of_cents(row.acct),
        )
        self.save(conn, row.psn_no, version, doc)
        conn.execute(
            update(insured_settlements)
            .where(insured_settlements.c.node == self.name, insured_settlements.c.msgid == row.msgid)
            .values(status="active")
        )
        self.set_visit(conn, row.mdtrt_id, "settled")

    async def cancel_settlement(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            row = self.active_settlement(conn, data["setl_id"], data["mdtrt_id"])
            negative = self.undo_settlement(conn, row, "cancelled")
            conn.execute(
                insured_settlements.insert().values(
                    node=self.name,
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
            )
            ctx.effect = {"of": row.msgid}
            negative["setlinfo"]["setl_time"] = datetime_text(ctx.now)
            if self.faults.mutant("cancel-answer-not-negated"):  # the settlement's amounts, signs kept
                kept = {k: v for k, v in row.doc["answer"]["setlinfo"].items() if k in amounts(self.spec)}
                negative = {**row.doc["answer"], "setlinfo": {**negative["setlinfo"], **kept}}
            ctx.output = _pick_cancel_output(self.spec, "Y2305", negative)

    # ── Y2601 ──────────────────────────────────────────────────────

    async def reverse(self, ctx: Context) -> None:
        data = ctx.input["data"]
        with ctx.answer() as conn:
            original = conn.execute(
                select(messages).where(message_key.is_(self.name, data["omsgid"]))
            ).first()
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
                visit = self.visit(conn, original.effect["mdtrt_id"])
                if visit.state != "registered":
                    raise BusinessError(
                        "E4002", mdtrt_id=visit.mdtrt_id, state=visit.state, infno="Y2601", name="冲正"
                    )
                self.set_visit(conn, visit.mdtrt_id, "cancelled")
            elif original.infno == "Y2304":
                row = self.row(conn, original.msgid)
                if row.status != "active":
                    raise BusinessError(
                        "E4002", mdtrt_id=row.mdtrt_id, state=row.status, infno="Y2601", name="冲正"
                    )
                self.undo_settlement(conn, row, "reversed")
            else:  # Y2305: the cancellation never happened
                cancellation = self.row(conn, original.msgid)
                self.redo_settlement(conn, self.row(conn, cancellation.doc["of"]))
                conn.execute(
                    update(insured_settlements)
                    .where(
                        insured_settlements.c.node == self.name,
                        insured_settlements.c.msgid == original.msgid,
                    )
                    .values(status="reversed")
                )
            conn.execute(
                update(messages)
                .where(message_key.is_(self.name, original.msgid))
                .values(reversed_by=ctx.msgid)
            )

    def row(self, conn: Connection, msgid: str) -> Any:
        return conn.execute(
            select(insured_settlements).where(
                insured_settlements.c.node == self.name, insured_settlements.c.msgid == msgid
            )
        ).one()

    # ── Y2301: details after the fact ──────────────────────────────

    async def receive_details(self, ctx: Context) -> None:
        from .store import details

        data = ctx.input["data"]
        with ctx.answer() as conn:
            if (
                conn.execute(
                    select(insured_settlements.c.msgid).where(
                        insured_settlements.c.node == self.name,
                        insured_settlements.c.setl_id == data["setl_id"],
                    )
                ).first()
                is None
            ):
                raise BusinessError("E4005", setl_id=data["setl_id"], mdtrt_id=data["mdtrt_id"])
            have = set(
                conn.execute(
                    select(details.c.feedetl_sn).where(
                        details.c.node == self.name, details.c.setl_id == data["setl_id"]
                    )
                ).scalars()
            )
            rows = [
                {
                    "node": self.name,
                    "setl_id": data["setl_id"],
                    "feedetl_sn": line["feedetl_sn"],
                    "line": line,
                }
                for line in ctx.input["feedetail"]
                if line["feedetl_sn"] not in have
            ]
            if rows:
                conn.execute(details.insert(), rows)
            ctx.output = {"result": {"totalrow": len(have) + len(rows)}}

    # ── filing (备案) ─────────────────────────────────────────────

    async def file(self, ctx: Context) -> None:
        info = ctx.input["fileinfo"]
        person = self.person(info["psn_no"])
        sn = identity.filing_sn(self.admdvs, ctx.msgid, self.filing_sn())
        with ctx.answer() as conn:
            version, doc = self.state(conn, person.psn_no)
            if doc["insu_stas"] != "1":
                raise BusinessError("E3006", psn_no=person.psn_no)
            if any(f["status"] == "1" and f["mdtrtarea"] == info["mdtrtarea_admdvs"] for f in doc["filings"]):
                raise BusinessError("E3008", psn_no=person.psn_no)
            doc["filings"].append(
                {
                    "sn": sn,
                    "fil_type": info["fil_type"],
                    "mdtrtarea": info["mdtrtarea_admdvs"],
                    "begndate": info["begndate"],
                    "enddate": info.get("enddate") or None,
                    "status": "1",
                }
            )
            self.save(conn, person.psn_no, version, doc)
            ctx.output = {"result": {"trt_dcla_detl_sn": sn}}

    def _filing(self, doc: Mapping[str, Any], sn: str) -> dict[str, Any]:
        filing: dict[str, Any] | None = next(
            (f for f in doc["filings"] if f["sn"] == sn and f["status"] == "1"), None
        )
        if filing is None:
            raise BusinessError("E3009", trt_dcla_detl_sn=sn)
        return filing

    async def change_filing(self, ctx: Context) -> None:
        data = ctx.input["data"]
        person = self.person(data["psn_no"])
        sn = identity.filing_sn(self.admdvs, ctx.msgid, self.filing_sn())
        with ctx.answer() as conn:
            version, doc = self.state(conn, person.psn_no)
            old = self._filing(doc, data["trt_dcla_detl_sn"])
            old["status"] = "2"
            doc["filings"].append(
                {
                    **old,
                    "sn": sn,
                    "status": "1",
                    **{
                        k: data[v]
                        for k, v in (
                            ("mdtrtarea", "mdtrtarea_admdvs"),
                            ("begndate", "begndate"),
                            ("enddate", "enddate"),
                        )
                        if data.get(v)
                    },
                }
            )
            self.save(conn, person.psn_no, version, doc)
            ctx.output = {"result": {"trt_dcla_detl_sn": sn}}

    async def revoke_filing(self, ctx: Context) -> None:
        data = ctx.input["data"]
        person = self.person(data["psn_no"])
        with ctx.answer() as conn:
            version, doc = self.state(conn, person.psn_no)
            self._filing(doc, data["trt_dcla_detl_sn"])["status"] = "3"
            self.save(conn, person.psn_no, version, doc)

    async def query_filings(self, ctx: Context) -> None:
        data = ctx.input["data"]
        person = self.person(data["psn_no"])
        with ctx.answer() as conn:
            _, doc = self.state(conn, person.psn_no)
            area = data.get("mdtrtarea_admdvs")
            ctx.output = {
                "filinginfo": [
                    f
                    for f in self.person_output(person, doc, ctx.now)["filinginfo"]
                    if not area or f["mdtrtarea_admdvs"] == area
                ]
            }


def _usage_doc(usage: Usage) -> dict[str, str]:
    return {"deductible": str(usage.deductible), "pool": str(usage.pool), "supp": str(usage.supp)}


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
