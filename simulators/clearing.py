"""Money between provinces, kept by the hub (先预付后清算): prepayment funds, monthly clearing, alerts.

Each insured province keeps a prepayment fund (预付金) at each treatment province it sends patients to.
Every cross-province settlement draws on it, a cancellation or reversal puts the money back, and at month
end the hub issues a clearing statement (清算单) per pair of provinces: what the insured province owes for
the month's settlements net of cancellations. When the insured province confirms, its payment restores the
fund. A fund used past its warning line raises an alert and a top-up request (settlement-rules.md §2.6: 70 %
and 90 % are the commonly cited lines, not verified; they are the topology's to set).

Every movement of a fund is a row of ``prepayment_moves`` (who, when, why, amount, balance after), written in
the same transaction as the settlement or confirmation that caused it (R-CLR-03). Every settlement is counted
in the month its national record falls in, once (``hub_records.month``, R-CLR-02).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, true, update

from ..specs.money import cents
from ..world.topology import Topology
from .store import clearings, hub_records, prepayment_alerts, prepayment_moves, prepayments
from .store.queries import Queries

ALERT_ZH = {
    "warn": "预付金使用已达预警线，请补足",
    "urgent": "预付金即将用尽，请紧急补足",
    "exhausted": "预付金已用尽",
}


@dataclass(frozen=True)
class Lines:
    """How a fund is sized and watched (the topology's ``prepayment``)."""

    per_person: int  # cents: last year's average inpatient fund payment, per person filed (the seeds' way)
    minimum: int  # cents: a pair with few persons filed still gets this much
    warn_at: float  # share of the fund used: a warning and a top-up request
    urgent_at: float  # share used: an urgent top-up request

    @classmethod
    def of(cls, topology: Topology) -> Lines:
        raw = topology.prepayment
        return cls(
            cents(raw.get("per_person", 13_660)),
            cents(raw.get("minimum", 1_000_000)),
            float(raw.get("warn_at", 0.70)),
            float(raw.get("urgent_at", 0.90)),
        )

    def level(self, size: int, balance: int, *, past: bool = False) -> str:
        """The alert level a balance stands at: '', warn, urgent or exhausted (``past``: the mutant alerting
        only past a threshold, not at it)."""
        used = (size - balance) / size if size else 1.0
        if balance <= 0:
            return "exhausted"
        if past:
            return "urgent" if used > self.urgent_at else "warn" if used > self.warn_at else ""
        return "urgent" if used >= self.urgent_at else "warn" if used >= self.warn_at else ""


RANK = {"": 0, "warn": 1, "urgent": 2, "exhausted": 3}


def month_end(month: str, *, wrong: bool = False) -> date:
    """The first day after ``month`` (YYYYMM): the month may be cleared from then on (``wrong``: the mutant
    computing it modulo 11)."""
    year, mon = int(month[:4]), int(month[4:])
    return date(year + mon // 12, mon % (11 if wrong else 12) + 1, 1)


def span(month: str, *, wrong: bool = False) -> tuple[datetime, datetime]:
    """From the first instant of ``month`` (YYYYMM) to the first of the next, the end left out."""
    end = month_end(month, wrong=wrong)
    return datetime(int(month[:4]), int(month[4:]), 1), datetime(end.year, end.month, 1)


class Funds:
    """The hub's prepayment funds and clearing statements, over one database connection at a time."""

    def __init__(
        self,
        topology: Topology,
        queries: Queries,
        mutant: Callable[[str], bool] = lambda name: False,
        actor: str = "hub",
    ) -> None:
        self.topology, self.lines, self.actor = topology, Lines.of(topology), actor
        self.queries = queries  # the store's prepared statements: a fund's read and move (every settlement)
        self.mutant = mutant  # the hub's deliberately wrong behaviours (simulators/faults.py)

    def sizes(self) -> dict[tuple[str, str], int]:
        """Each pair's fund: per person filed from the insured province for the treatment province, at least
        the minimum; every pair of provinces has one."""
        filed: dict[tuple[str, str], int] = {}
        for person in self.topology.persons.values():
            for f in person.filings:
                treatment = f.mdtrtarea[:2] + "0000"
                if f.status == "1" and treatment != person.province:
                    filed[(person.province, treatment)] = filed.get((person.province, treatment), 0) + 1
        provinces = list(self.topology.provinces)
        return {
            (a, b): max(self.lines.minimum, self.lines.per_person * filed.get((a, b), 0))
            for a in provinces
            for b in provinces
            if a != b
        }

    def open(self, conn: Connection, now: datetime) -> None:
        """Open every fund not yet open (a database used before keeps its balances)."""
        known = {
            (r.insured, r.treatment)
            for r in conn.execute(select(prepayments.c.insured, prepayments.c.treatment))
        }
        for (insured, treatment), size in self.sizes().items():
            if (insured, treatment) not in known:
                conn.execute(
                    insert(prepayments).values(
                        insured=insured, treatment=treatment, size=size, balance=0, alert=""
                    )
                )
                self.move(
                    conn, insured, treatment, size, "open", "", "参保地按备案人数预付", now, actor=insured
                )

    # ── movements ──────────────────────────────────────────────────

    def move(
        self,
        conn: Connection,
        insured: str,
        treatment: str,
        amount: int,
        kind: str,
        ref: str,
        reason: str,
        now: datetime,
        *,
        actor: str | None = None,
    ) -> int:
        """One movement of a fund, recorded, and the alert it calls for; the new balance."""
        q = self.queries
        row = q.fund.first(conn, k_insured=insured, k_treatment=treatment)
        if row is None:
            raise LookupError(f"no prepayment fund of {insured} at {treatment}")
        balance = row.balance + amount
        q.fund_moved.run(
            conn,
            insured=insured,
            treatment=treatment,
            kind=kind,
            amount=amount,
            balance=balance,
            ref=ref,
            actor=actor or self.actor,
            reason=reason,
            sim_time=now,
        )
        past = self.mutant("prepayment-alert-past-threshold")
        level = "" if self.mutant("no-prepayment-alert") else self.lines.level(row.size, balance, past=past)
        if RANK[level] > RANK[row.alert]:
            conn.execute(
                insert(prepayment_alerts).values(
                    insured=insured,
                    treatment=treatment,
                    level=level,
                    balance=balance,
                    size=row.size,
                    reason=ALERT_ZH[level],
                    sim_time=now,
                )
            )
        q.set_fund.run(conn, balance=balance, alert=level, k_insured=insured, k_treatment=treatment)
        return int(balance)

    def settled(self, conn: Connection, record: Mapping[str, Any], now: datetime) -> None:
        """A national record (a settlement or a cancellation) draws on its fund; a cancellation's fund is
        negative, so it puts the money back."""
        if self.mutant("prepayment-not-drawn"):
            return
        kind = "settle" if record["infno"] == "Y2304" else "cancel"
        why = "异地就医结算" if kind == "settle" else "结算撤销退回"
        self.move(
            conn, record["insured"], record["treatment"], -record["fund"], kind, record["setl_id"], why, now
        )

    def reversed(self, conn: Connection, msgid: str, now: datetime, by: str) -> None:
        """A reversal (2601) of a national record: its draw is undone. One already counted in an issued
        month stays there; the reversal is counted in the month it happens, by an adjustment record."""
        row = self.queries.hub_record.first(conn, k_msgid=msgid)
        if row is None or row["status"] == "reversed":
            return
        self.queries.set_hub_record.run(conn, k_msgid=msgid, status="reversed")
        if row["month"] is not None and not self.mutant("reversal-rewrites-cleared-month"):
            conn.execute(
                insert(hub_records).values(
                    {**row, "msgid": by, "infno": "Y2601", "fund": -row["fund"], "acct": -row["acct"],
                     "medfee": -row["medfee"], "status": "active", "sim_time": now, "month": None}
                )
            )  # fmt: skip
        if not self.mutant("reversal-keeps-prepayment-draw"):
            pair = (row["insured"], row["treatment"])
            self.move(conn, *pair, row["fund"], "reverse", row["setl_id"], "冲正退回", now)

    def resize(self, conn: Connection, insured: str, treatment: str, size: int, now: datetime) -> int:
        """A fund's size set anew (a test team's lever); the balance moves by as much, recorded."""
        where = and_(prepayments.c.insured == insured, prepayments.c.treatment == treatment)
        old = conn.execute(select(prepayments.c.size).where(where)).scalar_one()
        conn.execute(update(prepayments).where(where).values(size=size))
        return self.move(
            conn, insured, treatment, size - old, "resize", "", "预付金额度调整", now, actor="admin"
        )

    def top_up(
        self, conn: Connection, insured: str, treatment: str, amount: int, now: datetime, ref: str
    ) -> int:
        return self.move(
            conn, insured, treatment, amount, "topup", ref, "参保地补足预付金", now, actor=insured
        )

    # ── monthly clearing ───────────────────────────────────────────

    def issue(self, conn: Connection, month: str, now: datetime) -> None:
        """The month's statements, once: every active national record of the month not yet counted, summed
        per pair (receivable by the treatment province, payable by the insured one). Idempotent."""
        if conn.execute(
            select(func.count()).select_from(clearings).where(clearings.c.month == month)
        ).scalar():
            return
        start, end = span(month, wrong=self.mutant("clearing-month-after-november-wrong"))
        in_month = (  # the mutant's month ends at its last day's 23:59:59.000
            hub_records.c.sim_time <= end - timedelta(seconds=1)
            if self.mutant("statement-drops-last-second")
            else hub_records.c.sim_time < end
        )
        counted = and_(
            hub_records.c.infno == "Y2304" if self.mutant("clearing-skips-cancellations") else true(),
            hub_records.c.month.is_(None),
            hub_records.c.status == "active",
            hub_records.c.sim_time >= start,
            in_month,
        )
        totals = conn.execute(
            select(
                hub_records.c.insured,
                hub_records.c.treatment,
                func.count().filter(hub_records.c.infno == "Y2304"),
                func.coalesce(func.sum(hub_records.c.fund), 0),
            )
            .where(counted)
            .group_by(hub_records.c.insured, hub_records.c.treatment)
        ).all()
        conn.execute(update(hub_records).where(counted).values(month=month))
        by_pair = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in totals}
        for insured, treatment in self.sizes():
            settlements, amount = by_pair.get((insured, treatment), (0, 0))
            conn.execute(
                insert(clearings).values(
                    month=month,
                    insured=insured,
                    treatment=treatment,
                    settlements=settlements,
                    amount=amount,
                    state="issued",
                    issued_at=now,
                    confirmed_at=None,
                )
            )

    def statements(self, conn: Connection, month: str, province: str | None = None) -> list[dict[str, Any]]:
        query = select(clearings).where(clearings.c.month == month)
        if province:
            query = query.where((clearings.c.insured == province) | (clearings.c.treatment == province))
        return [
            dict(r)
            for r in conn.execute(query.order_by(clearings.c.insured, clearings.c.treatment)).mappings()
        ]

    def confirm(self, conn: Connection, month: str, insured: str, now: datetime) -> list[dict[str, Any]]:
        """The insured province confirms its statements of the month: it pays each, and the payment
        restores its fund there. A statement is confirmed, and paid, once."""
        paid = ("issued", "confirmed") if self.mutant("clearing-pays-twice") else ("issued",)
        everyone = self.mutant("confirm-confirms-everyone")  # one province's word taken for all
        waiting = [
            s
            for s in self.statements(conn, month, None if everyone else insured)
            if (everyone or s["insured"] == insured) and s["state"] in paid
        ]
        for s in waiting:
            conn.execute(
                update(clearings)
                .where(and_(clearings.c.month == month, clearings.c.insured == s["insured"],
                            clearings.c.treatment == s["treatment"]))
                .values(state="confirmed", confirmed_at=now)
            )  # fmt: skip
            if s["amount"]:
                pair = (s["insured"], s["treatment"])
                self.move(conn, *pair, s["amount"], "clear", month, f"{month}清算拨付", now, actor=pair[0])
        return waiting

    def fund(self, conn: Connection, insured: str, treatment: str) -> dict[str, Any] | None:
        """One fund, or None when the pair has none."""
        where = and_(prepayments.c.insured == insured, prepayments.c.treatment == treatment)
        row = conn.execute(select(prepayments).where(where)).mappings().first()
        return dict(row) if row else None

    def funds(self, conn: Connection, province: str | None = None) -> list[dict[str, Any]]:
        query = select(prepayments)
        if province:
            query = query.where((prepayments.c.insured == province) | (prepayments.c.treatment == province))
        return [
            dict(r)
            for r in conn.execute(query.order_by(prepayments.c.insured, prepayments.c.treatment)).mappings()
        ]


# ── the invariants (R-CLR-01..03), checked by tests and after load ─────────


def by_pair(rows: Iterable[Any]) -> dict[tuple[str, str], int]:
    return {(r[0], r[1]): int(r[2] or 0) for r in rows}


def check(conn: Connection, months: Iterable[str] = ()) -> list[str]:
    """What is wrong with the money between provinces, one line each (Chinese first); [] if nothing:
    per cleared month, Σ receivable = Σ payable = the national records counted in it, and none of the
    month's records left out (R-CLR-01, R-CLR-02); every fund's balance is the sum of its moves, and what
    settlements drew on it is what the national records say they paid (R-CLR-03)."""
    problems: list[str] = []
    for month in months:
        rows = conn.execute(select(clearings).where(clearings.c.month == month)).mappings().all()
        receivable: dict[str, int] = {}
        payable: dict[str, int] = {}
        for r in rows:
            receivable[r["treatment"]] = receivable.get(r["treatment"], 0) + r["amount"]
            payable[r["insured"]] = payable.get(r["insured"], 0) + r["amount"]
        counted = conn.execute(
            select(func.coalesce(func.sum(hub_records.c.fund), 0)).where(hub_records.c.month == month)
        ).scalar_one()
        if not rows:
            problems.append(f"未清算 {month}: 无清算单")
        elif not sum(receivable.values()) == sum(payable.values()) == counted:
            problems.append(
                f"清算不平 {month}: 应收合计{sum(receivable.values())} 应付合计{sum(payable.values())}"
                f" 计入的国家记录{counted}（分）"
            )
        start, end = span(month)
        left = (
            conn.execute(
                select(hub_records.c.setl_id).where(
                    hub_records.c.month.is_(None),
                    hub_records.c.status == "active",
                    hub_records.c.sim_time >= start,
                    hub_records.c.sim_time < end,
                )
            )
            .scalars()
            .all()
        )
        problems += [f"漏清算 {month}: 结算{setl_id}未计入任何清算月" for setl_id in left] if rows else []
    m, h = prepayment_moves.c, hub_records.c
    drawn = by_pair(
        conn.execute(
            select(m.insured, m.treatment, -func.sum(m.amount))
            .where(m.kind.in_(("settle", "cancel", "reverse")))
            .group_by(m.insured, m.treatment)
        )
    )
    recorded = by_pair(
        conn.execute(
            select(h.insured, h.treatment, func.sum(h.fund))
            .where(h.infno.in_(("Y2304", "Y2305")), h.status != "reversed")
            .group_by(h.insured, h.treatment)
        )
    )
    moved = by_pair(
        conn.execute(select(m.insured, m.treatment, func.sum(m.amount)).group_by(m.insured, m.treatment))
    )
    for row in conn.execute(select(prepayments)).mappings():
        key = (row["insured"], row["treatment"])
        pair = "→".join(key)
        if moved.get(key, 0) != row["balance"]:
            problems.append(f"预付金不符 {pair}: 余额{row['balance']}，流水合计{moved.get(key, 0)}（分）")
        if drawn.get(key, 0) != recorded.get(key, 0):
            problems.append(
                f"预付金动用不符 {pair}: 结算动用{drawn.get(key, 0)}，"
                f"国家记录的结算净额{recorded.get(key, 0)}（分）"
            )
    return problems
