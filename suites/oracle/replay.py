"""A run's bookings recomputed: every settlement, cancellation and reversal the insured provinces booked
(after a load run, from ``simulators.books.insured_bookings``, handed over as plain data), replayed person
by person in the order booked through an oracle ledger from the world file's start, each settlement's and
cancellation's answer compared to the cent. A reversal answers no amounts; what it undid shows in the
person's later answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ...specs.money import yuan
from ...world.topology import Topology, dedc_level
from .compare import differences
from .fees import Ranges
from .filing import filing_type, setting_of
from .ledger import Ledger
from .model import Claim

RANGES = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")


@dataclass
class Replayed:
    compared: int = 0  # answers recomputed
    left_out: int = 0  # bookings of persons not in the world
    reversed: int = 0  # reversals replayed (not compared: they answer no amounts)
    problems: list[str] = field(default_factory=list)


def replay(bookings: Iterable[Mapping[str, Any]], world: Topology) -> Replayed:
    by_person: dict[str, list[Mapping[str, Any]]] = {}
    for b in bookings:
        by_person.setdefault(str(b["psn_no"]), []).append(b)
    persons = {p.psn_no: p for p in world.persons.values()}
    done = Replayed()
    for psn_no, rows in by_person.items():
        person = persons.get(psn_no)
        if person is None:
            done.left_out += len(rows)
            continue
        ledger = Ledger.of(person, world.provinces[person.province].policies[person.insutype])
        settled_by = {}  # a settlement's msgid → its setl_id
        for r in rows:
            if r["kind"] == "settle":
                c = r["claim"]
                day = _day(r["sim_time"])
                claim = Claim(
                    Ranges(*(yuan(c[k]) for k in RANGES)),
                    dedc_level(str(c["hosp_lv"])),
                    setting_of(str(c["med_type"])),
                    filing_type(person, str(c["mdtrtarea_admdvs"]), day, str(c["med_type"])),
                    str(c.get("acct_used_flag")) == "1",
                )
                entry = ledger.settle(claim, _day(c["begntime"]), day, setl_id=str(r["setl_id"]))
                settled_by[str(r["msgid"])] = entry.id
            elif r["kind"] == "reverse":  # a settlement's entry is its setl_id, a cancellation's its msgid
                of = str(r["of"])
                if ledger.reverse(settled_by.get(of, of), id=str(r["msgid"])) is None:
                    done.problems.append(f"reverse {r['msgid']}（{psn_no}）: {of} 已不在账上，冲正应被拒绝")
                done.reversed += 1
                continue
            else:
                entry = ledger.cancel(settled_by[str(r["of"])], id=str(r["msgid"]))
            done.compared += 1
            differ = differences(r["answer"], entry.expected)
            if differ:
                shown = "；".join(f"{k} 应为{v[0]} 实际{v[1]}" for k, v in differ.items())
                done.problems.append(f"{r['kind']} {r['setl_id']}（{psn_no}）: {shown}")
    return done


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else date.fromisoformat(str(value)[:10])
