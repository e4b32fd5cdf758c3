"""What every family of the insured node's handlers shares: the province's insured persons and their state
(personal account balance, card status, insurance status, year-to-date usage, filings) in the store, the
visits the treatment side told it of, and the checks every family makes (card, filing).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from ...world import identity
from ...world.policy import Policy
from ...world.topology import Account, Person, Province
from ..benefits import usage_before
from ..gateway import BusinessError, Node, World
from ..links import Serials
from ..store import insured_visits, persons

EMERGENCY_MED_TYPES = frozenset({"13", "24"})  # 急诊, 急诊转住院: deemed filed (视同已备案)
RACE_SECONDS = 2.0  # person-lock-not-advancing: how long two settlements of one person count as at once


def initial_state(person: Person, policy: Policy) -> dict[str, Any]:
    """A person's state before the first message: the world file's account, card, insurance and filings,
    and the usage it gives for the year as the counters of the policy (``benefits.Usage``)."""
    return {
        "balance": str(person.account_balance),
        "card_status": person.card.status,
        "insu_stas": person.psn_insu_stas,
        "ytd": {
            str(year): {k: str(v) for k, v in usage_before(used, policy.on(date(year, 1, 1))).items()}
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


class Insured(Node):
    """A province's insured face as its handler families see it: its people, their state, their visits."""

    pays = True

    def __init__(self, province: Province, world: World, accounts: Mapping[str, Account]) -> None:
        super().__init__(f"insured:{province.admdvs}", province.admdvs, world, accounts)
        self.province, self.topology = province, world.topology
        self.people = {p.psn_no: p for p in self.topology.persons.values() if p.province == province.admdvs}
        self.filing_sn = Serials(self.store, f"{self.name}:filing")
        self._open: dict[str, tuple[float, int, dict[str, Any]]] = {}  # person-lock-not-advancing only
        with self.store.begin() as conn:
            known = set(conn.execute(select(persons.c.psn_no).where(persons.c.node == self.name)).scalars())
            rows = [
                {"node": self.name, "psn_no": p.psn_no, "version": 0, "doc": initial_state(p, self.policy(p))}
                for p in self.people.values()
                if p.psn_no not in known
            ]
            if rows:
                conn.execute(persons.insert(), rows)
        # every settlement reads its person: the node's persons are kept in memory from the start (their rows
        # change only here, through store.q, which keeps them exact: store/rows.py)
        # and so are its visits, all of them: every admission (Y2401) looks for the visit, which is new
        people, visits = self.store.q.person.cached, self.store.q.insured_visit.cached
        if people is not None and visits is not None:
            with self.store.read() as conn:
                query = select(persons.c.node, persons.c.psn_no, persons.c.version, persons.c.doc)
                people.preload(conn.execute(query.where(persons.c.node == self.name)).mappings())
                query = select(insured_visits).where(insured_visits.c.node == self.name)
                visits.preload(conn.execute(query).mappings(), complete=self.name)

    # ── persons ────────────────────────────────────────────────────

    def person(self, psn_no: str) -> Person:
        person = self.people.get(psn_no)
        if person is None:
            raise BusinessError("E3001", psn_no=psn_no)
        return person

    def policy(self, person: Person) -> Policy:
        """The province's benefit policy for the person's insutype."""
        return self.province.policies[person.insutype]

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
        self._open.pop(psn_no, None)  # person-lock-not-advancing: another message, so not "at once"
        row = self.store.q.person.first(conn, k_node=self.name, k_psn_no=psn_no)
        assert row is not None, psn_no
        return row.version, dict(row.doc)

    def settling_state(self, conn: Connection, psn_no: str) -> tuple[int, dict[str, Any]]:
        """The person's state a settlement starts from. Units never interleave here, so the mutant
        ``person-lock-not-advancing`` makes two settlements of one person back to back (nothing else of
        theirs between, within ``RACE_SECONDS``) start from one read, as two at once would on a platform of
        many workers: the second starts from the record as the first found it."""
        if not self.faults.mutant("person-lock-not-advancing"):
            return self.state(conn, psn_no)
        pending = self._open.pop(psn_no, None)
        if pending is not None and time.monotonic() - pending[0] <= RACE_SECONDS:
            return pending[1], copy.deepcopy(pending[2])
        version, doc = self.state(conn, psn_no)
        self._open[psn_no] = (time.monotonic(), version, copy.deepcopy(doc))
        return version, doc

    def save(self, conn: Connection, psn_no: str, version: int, doc: dict[str, Any]) -> None:
        stuck = self.faults.mutant("person-lock-not-advancing")  # the version written is the one read
        done = self.store.q.save_person.run(
            conn,
            version=version if stuck else version + 1,
            doc=doc,
            k_node=self.name,
            k_psn_no=psn_no,
            k_version=version,
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
        valid: list[dict[str, Any]] = [f for f in here if self.in_force(f, day)]
        if valid:
            return valid[0]
        if med_type in EMERGENCY_MED_TYPES:
            return {"sn": "", "fil_type": "6"}  # 异地急诊抢救: deemed filed
        if here:
            raise BusinessError("E3003", psn_no=person.psn_no, enddate=here[-1]["enddate"])
        if live:
            raise BusinessError("E3004", psn_no=person.psn_no, filed=live[-1]["mdtrtarea"], mdtrtarea=area)
        raise BusinessError("E3002", psn_no=person.psn_no)

    def in_force(self, filing: Mapping[str, Any], day: date) -> bool:
        """Whether a filing is valid on ``day``: from its first day to its last, both included (the
        mutants leave one end out)."""
        first, last = date.fromisoformat(filing["begndate"]), filing["enddate"]
        if day < first or (day == first and self.faults.mutant("filing-first-day-excluded")):
            return False
        if last is None:
            return True
        end = date.fromisoformat(last)
        return day < end or (day == end and not self.faults.mutant("filing-last-day-excluded"))

    # ── visits ─────────────────────────────────────────────────────

    def visit(self, conn: Connection, mdtrt_id: str) -> Any:
        row = self.store.q.insured_visit.first(conn, k_node=self.name, k_mdtrt_id=mdtrt_id)
        if row is None:
            raise BusinessError("E4001", mdtrt_id=mdtrt_id)
        return row

    def set_visit(self, conn: Connection, mdtrt_id: str, state: str) -> None:
        self.store.q.set_insured_visit.run(conn, state=state, k_node=self.name, k_mdtrt_id=mdtrt_id)
