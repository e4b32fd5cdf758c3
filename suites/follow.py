"""Every settlement a case makes, checked to the cent against the independent oracle (R-BEN-07).

A case's traffic (``Sut.exchanged``) is followed message by message: who was admitted or registered where
and when (1101 / Y1101, 2401, 2201), which fee lines stand (2301, 2302; an outpatient visit's by charge
batch, 2204, 2205), and each pre-settlement, settlement, cancellation and reversal (2303–2305, 2206–2208,
2601 and their Y-forms). Each person's year is an oracle
:class:`Ledger` that starts from the state the system says the person is in when the case first admits
them (5206 / Y5206 人员累计信息查询, and the balance 1101 answered; the world file's ``ytd`` where the
system does not answer 5206) and then follows what the case does. Every amount of every answer, and its
fund lines, must be the ledger's: a platform consistently wrong, or wrong only after a cancellation, fails.

Not followed: persons or hospitals the world file does not have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ..actors.his import His, Reply
from ..specs.money import yuan
from ..world.topology import Person, dedc_level
from . import catalogue
from .failures import fail
from .insured.client import as_hub, as_treatment
from .oracle import (
    Claim,
    Expected,
    Ledger,
    NotInCatalog,
    Ranges,
    classify,
    differences,
    filing_type,
    setting_of,
)
from .plugin import Sut


@pytest.fixture(autouse=True)
def followed(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("case")
    role = catalogue.load()[marker.args[0]].role if marker else ""
    if role not in ("treatment", "insured", "hub"):
        yield  # in the his role yidi is the platform and computes the money itself
        return
    sut: Sut = request.getfixturevalue("sut")
    watch = Follower(sut, role).see
    sut.exchanged.watchers.append(watch)
    try:
        yield
    finally:
        sut.exchanged.watchers.remove(watch)


@dataclass
class Stay:
    """One inpatient stay or outpatient visit as the case's traffic told it."""

    person: Person
    hospital: str
    insuplc: str
    admitted: date
    med_type: str
    lines: dict[str, tuple[str, Any, Any]] = field(default_factory=dict)  # feedetl_sn → code, cnt, pric
    batches: dict[str, str] = field(default_factory=dict)  # an outpatient line's feedetl_sn → chrg_bchno
    settled: dict[str, list[str]] = field(default_factory=dict)  # setl_id → the lines it settled

    def open_lines(self, batch: str | None = None) -> list[str]:
        """The lines (feedetl_sn) no standing settlement has settled (a mid-stay settlement settles those so
        far; an outpatient settlement, those of its charge batch)."""
        done = {sn for sns in self.settled.values() for sn in sns}
        mine = [sn for sn in self.lines if batch is None or self.batches.get(sn) == batch]
        return [sn for sn in mine if sn not in done]


class Follower:
    def __init__(self, sut: Sut, role: str) -> None:
        self.sut, self.role = sut, role
        self.persons = {p.psn_no: p for p in sut.world.persons.values()}
        self.ledgers: dict[str, Ledger] = {}
        self.balances: dict[str, Any] = {}  # psn_no → the balance 1101 answered
        self.stays: dict[str, Stay] = {}  # mdtrt_id → the stay
        self.by_msgid: dict[str, str] = {}  # a settlement's or cancellation's msgid → its ledger entry
        self.clients: dict[str, His] = {}

    def see(self, reply: Reply) -> None:
        if not reply.ok:
            return
        handler: Callable[[Reply], None] | None = getattr(self, f"on_{reply.infno.lstrip('Y')}", None)
        if handler is None:
            return
        try:
            handler(reply)
        except (KeyError, ValueError, TypeError, IndexError):
            return  # an answer of the wrong shape is the conformance cases' to judge, not the money's

    # ── who and where ──────────────────────────────────────────────

    def on_1101(self, reply: Reply) -> None:
        base, insu = reply.output["baseinfo"], (reply.output.get("insuinfo") or [{}])[0]
        if base.get("psn_no") in self.persons and insu.get("balc") is not None:
            self.balances[str(base["psn_no"])] = insu["balc"]

    def on_2401(self, reply: Reply) -> None:
        info = self.sut.sent(reply)["mdtrtinfo"]
        mdtrt_id = info["mdtrt_id"] if reply.infno == "Y2401" else reply.output["result"]["mdtrt_id"]
        self.admitted(reply, info, str(mdtrt_id), str(info["med_type"]))

    def on_2201(self, reply: Reply) -> None:
        # the visit's med_type comes with its settlement (2206 / 2207)
        self.admitted(reply, self.sut.sent(reply)["data"], str(reply.output["data"]["mdtrt_id"]), "11")

    def admitted(self, reply: Reply, info: Mapping[str, Any], mdtrt_id: str, med_type: str) -> None:
        person = self.persons.get(str(info["psn_no"]))
        code = str(info.get("fixmedins_code") or reply.request["fixmedins_code"])
        if person is None or self.sut.world.hospital(code) is None:
            return
        insuplc = str(reply.request["insuplc_admdvs"])
        self.stays[mdtrt_id] = Stay(person, code, insuplc, _day(info["begntime"]), med_type)
        if person.psn_no not in self.ledgers:
            self.ledgers[person.psn_no] = self.start(person, code, insuplc)

    def on_2301(self, reply: Reply) -> None:
        for line in self.sut.sent(reply)["feedetail"]:
            stay = self.stays.get(str(line["mdtrt_id"]))
            if stay is not None:
                sn = str(line["feedetl_sn"])
                stay.lines[sn] = (str(line["med_list_codg"]), line["cnt"], line["pric"])
                if line.get("chrg_bchno"):
                    stay.batches[sn] = str(line["chrg_bchno"])

    on_2204 = on_2301

    def on_2302(self, reply: Reply) -> None:
        data = self.sut.sent(reply)["data"]
        stay = self.stays.get(str(data["mdtrt_id"]))
        if stay is not None:
            sn = str(data["feedetl_sn"])
            stay.lines = {} if sn == "0000" else {k: v for k, v in stay.lines.items() if k != sn}

    def on_2205(self, reply: Reply) -> None:
        data = self.sut.sent(reply)["data"]
        stay = self.stays.get(str(data["mdtrt_id"]))
        if stay is not None:
            batch = str(data["chrg_bchno"])
            every = batch == "0000"
            stay.lines = {k: v for k, v in stay.lines.items() if not every and stay.batches.get(k) != batch}

    # ── money ──────────────────────────────────────────────────────

    def on_2303(self, reply: Reply) -> None:
        found = self.claim(reply)
        if found is not None:
            ledger, claim, stay, _ = found
            _, expected = ledger.expect(claim, stay.admitted, settled(reply))
            self.compare(reply, expected, "R-BEN-07")

    on_2206 = on_2303

    def on_2304(self, reply: Reply) -> None:
        found = self.claim(reply)
        if found is not None:
            ledger, claim, stay, lines = found
            s = reply.output["setlinfo"]
            setl_id = str(s["setl_id"])
            if setl_id in ledger.entries:  # the same message again (R-IDEM-01): the same answer
                self.compare(reply, ledger.entries[setl_id].expected, "R-BEN-07")
                return
            entry = ledger.settle(claim, stay.admitted, settled(reply), setl_id=setl_id)
            self.by_msgid[reply.msgid] = entry.id
            stay.settled[setl_id] = lines
            self.compare(reply, entry.expected, "R-BEN-07")

    on_2207 = on_2304

    def on_2305(self, reply: Reply) -> None:
        setl_id = str(self.sut.sent(reply)["data"]["setl_id"])
        ledger = next((g for g in self.ledgers.values() if setl_id in g.entries), None)
        if ledger is not None and reply.msgid in ledger.entries:  # the same cancellation again
            self.compare(reply, ledger.entries[reply.msgid].expected, "R-AMT-11")
        elif ledger is not None and ledger.standing(setl_id):
            self.unsettle(setl_id)
            entry = ledger.cancel(setl_id, id=reply.msgid)
            self.by_msgid[reply.msgid] = entry.id
            self.compare(reply, entry.expected, "R-AMT-11")

    on_2208 = on_2305

    def on_2601(self, reply: Reply) -> None:
        undone = self.by_msgid.get(str(self.sut.sent(reply)["data"]["omsgid"]))
        ledger = next((g for g in self.ledgers.values() if undone in g.entries), None)
        if ledger is None or undone is None or ledger.reverse(undone) is None:
            return
        if ledger.entries[undone].kind == "settlement":
            self.unsettle(undone)

    # ── the pieces ─────────────────────────────────────────────────

    def unsettle(self, setl_id: str) -> None:
        """A settlement taken back: its lines are open again, to be settled anew."""
        for stay in self.stays.values():
            stay.settled.pop(setl_id, None)

    def claim(self, reply: Reply) -> tuple[Ledger, Claim, Stay, list[str]] | None:
        """The ledger, the claim, the stay a (pre-)settlement is of and the lines it settles; None when it is
        not followed."""
        if reply.infno.startswith("Y"):
            return self.claim_relayed(reply)
        data = self.sut.sent(reply)["data"]
        stay = self.stays.get(str(data["mdtrt_id"]))
        if stay is None:
            return None
        hospital = self.sut.world.hospital(stay.hospital)
        province = self.sut.world.province_of(hospital.admdvs) if hospital else None
        if hospital is None or province is None:
            return None
        lines = stay.open_lines(str(data["chrg_bchno"]) if data.get("chrg_bchno") else None)
        try:
            bill = classify(province.catalog, [stay.lines[sn] for sn in lines])
        except NotInCatalog:
            return None  # refused by the catalog check, which other cases judge
        med_type = str(data.get("med_type") or stay.med_type)
        claim = Claim(
            bill.totals,
            hospital.dedc_level,
            setting_of(med_type),
            filing_type(stay.person, hospital.admdvs, settled(reply), med_type),
            str(data.get("acct_used_flag")) == "1",
        )
        return self.ledgers[stay.person.psn_no], claim, stay, lines

    def claim_relayed(self, reply: Reply) -> tuple[Ledger, Claim, Stay, list[str]] | None:
        s = reply.request["input"]["setlinfo"]
        person = self.persons.get(str(s["psn_no"]))
        if person is None or person.psn_no not in self.ledgers:
            return None  # not in the world, or admitted before the case began
        insuplc = str(reply.request["insuplc_admdvs"])
        stay = Stay(person, str(s["fixmedins_code"]), insuplc, _day(s["begntime"]), str(s["med_type"]))
        ranges = Ranges(
            *(yuan(s[k]) for k in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"))
        )
        claim = Claim(
            ranges,
            dedc_level(str(s["hosp_lv"])),
            setting_of(stay.med_type),
            filing_type(person, str(s["mdtrtarea_admdvs"]), settled(reply), stay.med_type),
            str(s.get("acct_used_flag")) == "1",
        )
        return self.ledgers[person.psn_no], claim, stay, []

    def start(self, person: Person, hospital: str, insuplc: str) -> Ledger:
        """The person's ledger as the system says they stand now."""
        policy = self.sut.world.provinces[person.province].policies[person.insutype]
        ytd = dict(person.ytd)
        told = self.totals(person, hospital, insuplc)
        if told is not None:
            year, totals = told
            ytd[year] = usage_of(totals, policy.on(date(year, 12, 31)))
        return Ledger(
            policy, person.patient, ytd=ytd, balance=self.balances.get(person.psn_no, person.account_balance)
        )

    def totals(self, person: Person, hospital: str, insuplc: str) -> tuple[int, dict[str, Decimal]] | None:
        """5206 (or Y5206 relayed), not the case's evidence; None when the system does not answer it."""
        if self.role == "treatment":
            reply = self.his(hospital).call(
                "5206", {"data": {"psn_no": person.psn_no}}, insuplc_admdvs=insuplc, check=False
            )
        else:
            relay = (as_hub if self.role == "insured" else as_treatment)(self.sut, hospital)
            relay.into = []
            data = {"psn_no": person.psn_no}
            reply = relay.send(relay.message("Y5206", {"data": data}, insuplc_admdvs=insuplc))
        rows = reply.output.get("cuminfo") if reply.ok else None
        if rows is None:
            return None
        year = int(rows[0]["year"]) if rows else date.today().year
        return year, {str(r["cum_type_code"]): yuan(r["cum"]) for r in rows}

    def his(self, code: str) -> His:
        if code not in self.clients:
            self.clients[code] = His(self.sut.spec, self.sut.hospital(code))
            self.clients[code].sign_in()
        return self.clients[code]

    def compare(self, reply: Reply, expected: Expected, rule: str) -> None:
        differ = differences(reply.output, expected)
        if differ:
            fail(
                f"结算金额应与按参保地政策独立计算的结果一致，不一致：{'、'.join(differ)}",
                rule=rule,
                on=reply,
                expected={k: str(v[0]) for k, v in differ.items()},
                actual={k: str(v[1]) for k, v in differ.items()},
            )


def usage_of(totals: Mapping[str, Decimal], terms: Any) -> dict[str, Any]:
    """5206's codes as the world file's ``ytd`` of one year (the inpatient figures and each fund's)."""
    pool = f"D{terms.fund_pay_type[:5]}1"
    funds = {f.fund_pay_type: f"D{f.fund_pay_type[:5]}1" for f in terms.funds}
    return {
        "deductible": totals.get("Q0000"),
        "pool": totals.get(pool),
        "stays": int(totals.get("C0000") or 0),
        "inscp": totals.get("P0000"),
        "eligible": totals.get("S0000"),
        "funds": {code: totals[cum] for code, cum in funds.items() if cum in totals},
    }


def settled(reply: Reply) -> date:
    """The day the system settled on (its own clock)."""
    return _day(reply.output["setlinfo"]["setl_time"])


def _day(text: Any) -> date:
    return date.fromisoformat(str(text)[:10])
