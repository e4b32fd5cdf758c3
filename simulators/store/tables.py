"""The tables of the simulators' state (SQLAlchemy Core) and the time-ordered keys of the hot ones.

Every row names the node that owns it (``treatment:510000``, ``insured:500000``, ``hub``), so one
database holds a whole topology while each node still commits only its own part. Money is stored in
integer cents.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    literal_column,
)

meta = MetaData()


def _node(primary_key: bool = True) -> Column[str]:
    return Column("node", String(24), primary_key=primary_key, nullable=False)


class TimeKey:
    """The unique key (node, id) of a table whose ids are a prefix of ``head`` characters (the hospital's
    or the region's code) and then a timestamp, laid out in time order.

    A key led by node and prefix puts the rows of one group commit at one place per hospital, each a
    page the WAL writes again; led by the time, they share about one page. 9001 sign-ins, whose two
    rows are keyed so, run 5–8 % faster for it (interleaved A/B, 10 rounds). SQL answers from an index
    on expressions only when a query names the same expressions, so look rows up with :meth:`is_`.
    """

    def __init__(self, table: Table, column: str, head: int) -> None:
        self.node, self.id, self.head = table.c.node, table.c[column], head
        Index(f"{table.name}_by_time", *self._parts(self.id), self.node, unique=True)

    def _parts(self, value: Any) -> tuple[Any, Any]:
        # positions as literals: the index's expressions hold numbers, not parameters
        one, head, rest = (literal_column(str(n), Integer) for n in (1, self.head, self.head + 1))
        return func.substr(value, rest), func.substr(value, one, head)

    def is_(self, node: Any, id_: Any) -> ColumnElement[bool]:
        """node = node and id = id_, in the index's terms. Not with id = id_ as well: SQLite would put
        id_ for the column in the expressions, and then no longer see the index's."""
        later, first = self._parts(self.id)
        id_later, id_first = self._parts(id_)
        return and_(later == id_later, first == id_first, self.node == node)


# Idempotency and audit: every message a node answered, with its answer (R-IDEM-01).
messages = Table(
    "messages",
    meta,
    _node(primary_key=False),
    Column("msgid", String(40), nullable=False),
    Column("infno", String(8), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("sender", String(40), nullable=False),
    Column("response", JSON, nullable=False),
    Column("effect", JSON),  # what a reversal needs to undo it
    Column("reversed_by", String(40)),
    Column("sim_time", DateTime, nullable=False),
)

message_key = TimeKey(messages, "msgid", 12)  # 机构编号12位+yyyyMMddHHmmss+4位顺序号

signins = Table(
    "signins",
    meta,
    _node(primary_key=False),
    Column("sign_no", String(40), nullable=False),
    Column("fixmedins_code", String(40), nullable=False),
    Column("opter_no", String(40), nullable=False),
    Column("signed_out", Boolean, nullable=False, default=False),
    Column("sim_time", DateTime, nullable=False),
)
signin_key = TimeKey(signins, "sign_no", 6)  # the region's code, then the time

# x-tif nonces a gateway accepted, kept until they expire so that headers captured before a restart are
# refused after it (R-SEC-05). Written behind the messages, a batch's nonces in one statement at its commit;
# read only when a node starts; expired rows swept by (node, expires), where a batch's rows are adjacent.
nonces = Table(
    "nonces",
    meta,
    _node(primary_key=False),
    Column("paasid", String(64), nullable=False),
    Column("nonce", Text, nullable=False),  # as long as the signer made it
    Column("expires", BigInteger, nullable=False),  # Unix seconds
    Index("nonces_by_expiry", "node", "expires"),
)

# The treatment side's visits (就诊): state, version for optimistic concurrency, and the document
# (person snapshot, history, pending cross-province call; in a database written before visit_fees, the fee
# lines too, moved there at the visit's next save).
visits = Table(
    "visits",
    meta,
    _node(),
    Column("mdtrt_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False, index=True),
    Column("fixmedins_code", String(40), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("kind", String(12), nullable=False),  # inpatient / outpatient
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("cross", Boolean, nullable=False),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# A visit's fee lines (2301/2204), by feedetl_sn, apart from its document: read and written only by what
# needs them (upload, cancellation, totals, settlement, 5204, details), not by every save of the visit.
# Written only in a unit that saves the visit (version-checked), so the two change together. No row
# until the first upload (the visit's document says whether there is one: treatment/visits.py).
visit_fees = Table(
    "visit_fees",
    meta,
    _node(),
    Column("mdtrt_id", String(40), primary_key=True),
    Column("lines", JSON, nullable=False),
)

# Persons a treatment side verified at 1101 (card read), which admission then relies on.
seen_persons = Table(
    "seen_persons",
    meta,
    _node(),
    Column("psn_no", String(40), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Settlements, cancellations and reversals as the treatment side booked them (one row each).
settlements = Table(
    "settlements",
    meta,
    _node(),
    Column("msgid", String(40), primary_key=True),  # the message that made the row
    Column("setl_id", String(40), nullable=False, index=True),
    Column("kind", String(12), nullable=False),  # settle / cancel / reversal
    Column("mdtrt_id", String(40), nullable=False, index=True),
    Column("psn_no", String(40), nullable=False),
    Column("fixmedins_code", String(40), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("infno", String(8), nullable=False),
    Column("medfee", BigInteger, nullable=False),  # cents
    Column("fund", BigInteger, nullable=False),
    Column("acct", BigInteger, nullable=False),
    Column("cash", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),  # active / cancelled / reversed
    Column("cross", Boolean, nullable=False),
    Column("doc", JSON, nullable=False),  # the setlinfo and setldetail answered
    Column("sim_time", DateTime, nullable=False),
)

# The insured side: one row per person it insures (year-to-date usage, account, card, filings).
persons = Table(
    "persons",
    meta,
    _node(),
    Column("psn_no", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("doc", JSON, nullable=False),
)

insured_visits = Table(
    "insured_visits",
    meta,
    _node(),
    Column("mdtrt_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("state", String(16), nullable=False),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

insured_settlements = Table(
    "insured_settlements",
    meta,
    _node(),
    Column("msgid", String(40), primary_key=True),
    Column("setl_id", String(40), nullable=False, index=True),
    Column("kind", String(12), nullable=False),
    Column("mdtrt_id", String(40), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("year", Integer, nullable=False),
    Column("setting", String(12), nullable=False),
    Column("fund", BigInteger, nullable=False),
    Column("acct", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("doc", JSON, nullable=False),  # usage added, amounts answered
    Column("sim_time", DateTime, nullable=False),
)

# The hub's national record of every cross-province settlement, cancellation and reversal.
hub_records = Table(
    "hub_records",
    meta,
    _node(),
    Column("msgid", String(40), primary_key=True),
    Column("infno", String(8), nullable=False),
    Column("setl_id", String(40), nullable=False, index=True),
    Column("mdtrt_id", String(40), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("insured", String(6), nullable=False),
    Column("medfee", BigInteger, nullable=False),
    Column("fund", BigInteger, nullable=False),
    Column("acct", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("sim_time", DateTime, nullable=False),
    Column("month", String(6), index=True),  # the clearing month it is counted in (yyyyMM), once issued
)

# Money between provinces (simulators/clearing.py): each insured province's prepayment fund (预付金) at each
# treatment province, every movement of it, the alerts it raised, and the monthly clearing statements.
prepayments = Table(
    "prepayments",
    meta,
    Column("insured", String(6), primary_key=True),
    Column("treatment", String(6), primary_key=True),
    Column("size", BigInteger, nullable=False),  # as sized when opened (cents)
    Column("balance", BigInteger, nullable=False),
    Column("alert", String(12), nullable=False),  # the level last raised: '', warn, urgent, exhausted
)

prepayment_moves = Table(
    "prepayment_moves",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("insured", String(6), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("kind", String(12), nullable=False),  # open · settle · cancel · reverse · clear · topup
    Column("amount", BigInteger, nullable=False),  # cents: + into the fund, − out of it
    Column("balance", BigInteger, nullable=False),  # after the move
    Column("ref", String(40), nullable=False),  # the settlement, month or message it is for
    Column("actor", String(24), nullable=False),  # who moved it
    Column("reason", String(200), nullable=False),  # why (Chinese)
    Column("sim_time", DateTime, nullable=False),
)

prepayment_alerts = Table(
    "prepayment_alerts",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("insured", String(6), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("level", String(12), nullable=False),  # warn · urgent · exhausted
    Column("balance", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

clearings = Table(
    "clearings",
    meta,
    Column("month", String(6), primary_key=True),
    Column("insured", String(6), primary_key=True),  # pays
    Column("treatment", String(6), primary_key=True),  # receives
    Column("settlements", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),  # cents: the month's fund payments net of cancellations
    Column("state", String(12), nullable=False),  # issued · confirmed
    Column("issued_at", DateTime, nullable=False),
    Column("confirmed_at", DateTime),
)

# Monthly clearing of remote patients at the treatment place (simulators/treatment/remote.py, 3261/3262): each
# clearing row a hospital confirmed or left out, and the 3261 that did it.
remote_confirmations = Table(
    "remote_confirmations",
    meta,
    _node(),
    Column("fixmedins_code", String(40), primary_key=True),
    Column("setl_id", String(40), primary_key=True),
    Column("kind", String(12), primary_key=True),  # settle · cancel: a cancellation is a row of its own
    Column("month", String(6), nullable=False),
    Column("state", String(12), nullable=False),  # confirmed · excluded
    Column("msgid", String(40), nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Files hospitals uploaded (9101) and the platform made for them (3202 results), for 9102.
files = Table(
    "files",
    meta,
    _node(),
    Column("file_qury_no", String(30), primary_key=True),
    Column("fixmedins_code", String(40), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Item details sent after the fact (事后传明细), as the insured side received them.
details = Table(
    "details",
    meta,
    _node(),
    Column("setl_id", String(40), primary_key=True),
    Column("feedetl_sn", String(40), primary_key=True),
    Column("line", JSON, nullable=False),
)

settings = Table(
    "settings",
    meta,
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
)
