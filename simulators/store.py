"""Where the simulators keep state: SQLite by default, PostgreSQL by URL (SQLAlchemy Core).

Every row names the node that owns it (``treatment:510000``, ``insured:500000``, ``hub``), so one
database holds a whole topology while each node still commits only its own part. Money is stored in
integer cents. SQLite runs in WAL mode with synchronous=NORMAL: a killed process (kill -9) loses
nothing it committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
)

meta = MetaData()


def _node() -> Column[str]:
    return Column("node", String(24), primary_key=True)


# Idempotency and audit: every message a node answered, with its answer (R-IDEM-01).
messages = Table(
    "messages", meta, _node(),
    Column("msgid", String(40), primary_key=True),
    Column("infno", String(8), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("sender", String(40), nullable=False),
    Column("response", JSON, nullable=False),
    Column("effect", JSON),  # what a reversal needs to undo it
    Column("reversed_by", String(40)),
    Column("sim_time", DateTime, nullable=False),
)

signins = Table(
    "signins", meta, _node(),
    Column("sign_no", String(40), primary_key=True),
    Column("fixmedins_code", String(40), nullable=False),
    Column("opter_no", String(40), nullable=False),
    Column("signed_out", Boolean, nullable=False, default=False),
    Column("sim_time", DateTime, nullable=False),
)

# The treatment side's visits (就诊): state, version for optimistic concurrency, and the document
# (person snapshot, fee lines, history, pending cross-province call).
visits = Table(
    "visits", meta, _node(),
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

# Persons a treatment side verified at 1101 (card read), which admission then relies on.
seen_persons = Table(
    "seen_persons", meta, _node(),
    Column("psn_no", String(40), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

# Settlements, cancellations and reversals as the treatment side booked them (one row each).
settlements = Table(
    "settlements", meta, _node(),
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
    "persons", meta, _node(),
    Column("psn_no", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("doc", JSON, nullable=False),
)

insured_visits = Table(
    "insured_visits", meta, _node(),
    Column("mdtrt_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("treatment", String(6), nullable=False),
    Column("state", String(16), nullable=False),
    Column("doc", JSON, nullable=False),
    Column("sim_time", DateTime, nullable=False),
)

insured_settlements = Table(
    "insured_settlements", meta, _node(),
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
    "hub_records", meta, _node(),
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
)

# Item details sent after the fact (事后传明细), as the insured side received them.
details = Table(
    "details", meta, _node(),
    Column("setl_id", String(40), primary_key=True),
    Column("feedetl_sn", String(40), primary_key=True),
    Column("line", JSON, nullable=False),
)

settings = Table(
    "settings", meta,
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
)


def cents(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, json_serializer=lambda v: json.dumps(v, ensure_ascii=False))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        meta.create_all(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One unit of work: committed on a normal exit, rolled back on an exception."""
        with self.engine.begin() as conn:
            yield conn

    def setting(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
        return default if value is None else value

    def put_setting(self, key: str, value: Any) -> None:
        with self.begin() as conn:
            if conn.execute(select(settings.c.key).where(settings.c.key == key)).first():
                conn.execute(settings.update().where(settings.c.key == key).values(value=value))
            else:
                conn.execute(settings.insert().values(key=key, value=value))

    def close(self) -> None:
        self.engine.dispose()
