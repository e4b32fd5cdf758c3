"""The message pipeline every simulated node shares.

parse → verify the x-tif signature → validate against the spec → idempotency by msgid → sign-in →
handler → validate the answer → answer. Every refusal is an envelope with infcode −1/−2 and an
err_msg that names the field and the rule; nothing raises out of here (no HTTP 500).

A handler commits its effects and its answer in one transaction (:meth:`Context.answer`), so a
crash never leaves an effect without the msgid record that makes a retry safe (R-IDEM-01).

Long because the pipeline's stages are kept in one place, in the order a message meets them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select

from ..specs import envelope, transport
from ..specs.adapt import Adapter
from ..specs.model import Spec
from ..specs.validate import validate
from ..world.clock import Clock
from ..world.topology import Account, Topology
from .answered import Answered
from .faults import Faults
from .store import Store, nonces

log = logging.getLogger("yidi.simulators")

SYSTEM_ERROR = "E6009"


class BusinessError(Exception):
    """A refusal from the error catalogue, with the values its message names."""

    def __init__(self, code: str, /, **values: Any) -> None:
        super().__init__(code)
        self.code, self.values = code, values


class Relayed(Exception):
    """Another node refused: answer the caller with that node's infcode and err_msg as they came."""

    def __init__(self, answer: Mapping[str, Any]) -> None:
        super().__init__(answer.get("err_msg"))
        self.infcode = int(answer.get("infcode") or -1)
        self.err_msg = str(answer.get("err_msg") or "")


class InvalidAnswer(Exception):
    """The simulator was about to emit a message the spec refuses: a simulator bug, never sent."""


HOLD = 600.0  # seconds the hold-answer fault keeps a connection unanswered: longer than any HIS waits


@dataclass
class Answer:
    status: int  # 200, or what a fault makes of it
    body: dict[str, Any] | None
    file: bytes | None = None  # a file answered as itself (9102), not as JSON
    hold: float = 0.0  # seconds to hold the connection unanswered first (hold-answer); a client gone: nothing


def digest(message: Mapping[str, Any], *, main_node_only: bool = False) -> str:
    """What makes two messages with one msgid the same: the transaction and its input (the
    msgid-fingerprint-main-node mutant: its first node only, and of a list its first row)."""
    content = message.get("input")
    if main_node_only and isinstance(content, Mapping) and content:
        node = next(iter(content.values()))
        content = node[0] if isinstance(node, list) and node else node
    canonical = orjson.dumps(
        {"infno": message.get("infno"), "input": content},
        option=orjson.OPT_SORT_KEYS,
        default=str,
    )
    return hashlib.sha256(canonical).hexdigest()


@dataclass
class Context:
    """One message being handled: its envelope, its input in the base spec's shape, and the answer."""

    node: Node
    message: dict[str, Any]  # as received (wire shape)
    msgid: str
    input: dict[str, Any]  # base shape
    infno: str
    account: Account
    now: datetime
    output: Any = None  # base shape; set inside answer()
    warn_msg: str | None = None
    effect: dict[str, Any] | None = None  # recorded with the answer, for a later 2601
    file: bytes | None = None  # answered instead of the envelope on success (9102 download)
    answered: dict[str, Any] | None = field(default=None, repr=False)
    digest: str = ""  # of the message, taken before the handler runs (see _handle)

    @property
    def spec(self) -> Spec:
        return self.node.spec

    def work(self) -> Any:
        """A unit of work that is not the answer (a claim before a call to another node)."""
        return self.node.store.begin()

    def answer(self) -> _Answering:
        """The final unit of work: the handler's effects and its answer commit together."""
        return _Answering(self)

    def relay(self, body: dict[str, Any], effects: Callable[[Connection], None] | None = None) -> None:
        """Answer with another node's answer as it came (the hub passing the insured side's answer back),
        committing ``effects`` with it. A -1 is not recorded: the caller may retry after a system error."""
        with self.node.store.begin() as conn:
            if effects:
                effects(conn)
            if body.get("infcode") not in (-1, "-1") or self.node.faults.mutant("hub-keeps-relayed-error"):
                self.node.record(conn, self, body)
        self.answered = body


class _Answering:
    """:meth:`Context.answer`'s unit: when the handler's block ends without error, the answer is made
    and recorded inside it (a class: a generator-based context manager costs more)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.unit = ctx, ctx.node.store.begin()

    def __enter__(self) -> Connection:
        self.conn = self.unit.__enter__()
        return self.conn

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        body = None
        if error is None:
            try:
                body = self.respond()
            except BaseException as e:
                self.unit.__exit__(type(e), e, e.__traceback__)
                raise
        self.unit.__exit__(kind, error, trace)
        self.ctx.answered = body

    def respond(self) -> dict[str, Any]:
        ctx, node = self.ctx, self.ctx.node
        body = node.respond(ctx.infno, 0, output=ctx.output, warn_msg=ctx.warn_msg, received=ctx.now)
        if not node.spec.transactions[ctx.infno].query:
            node.record(self.conn, ctx, body)
        return body


Handler = Callable[[Context], Awaitable[None]]
Refusal = tuple[str, dict[str, str]]  # an error code of the catalogue and the values its message names


class Unchecked:
    """The headers of a message not verified yet (:meth:`Node.handle`'s default)."""


UNCHECKED = Unchecked()
# sees every message a node received (headers, body as received, path infno) and the answer it gave
Observer = Callable[[Mapping[str, str], bytes | Mapping[str, Any], str | None, Answer], None]


class Nonces:
    """Nonces accepted within their lifetime, per paasid (R-SEC-05), in memory and in the store, so that
    headers captured before a restart are refused after it. Looked up in memory only; the nonces a batch
    accepted are written in one statement as it commits (its answers wait for that commit anyway), and
    expired ones are swept from both now and then."""

    def __init__(self, store: Store, node: str, ttl: float) -> None:
        self.store, self.node, self.ttl = store, node, ttl
        now = time.time()
        with store.read() as conn:
            rows = conn.execute(
                select(nonces.c.paasid, nonces.c.nonce, nonces.c.expires).where(
                    nonces.c.node == node, nonces.c.expires > now
                )
            )
            self.seen = {(paasid, nonce): float(expires) for paasid, nonce, expires in rows}
        self.pending: list[dict[str, Any]] = []  # accepted, not yet written
        self.sweep_at, self.purge_at = now + ttl / 10, 0.0

    def seen_before(self, paasid: str, nonce: str) -> bool:
        now = time.time()
        if now > self.sweep_at:
            self.seen = {k: t for k, t in self.seen.items() if t > now}
            self.sweep_at, self.purge_at = now + self.ttl / 10, now
        if self.seen.get((paasid, nonce), 0) > now:
            return True
        expires = self.seen[(paasid, nonce)] = now + self.ttl
        row = {"node": self.node, "paasid": paasid, "nonce": nonce, "expires": int(expires) + 1}
        self.pending.append(row)
        if len(self.pending) == 1:  # the first since the last write: write them when the batch commits
            self.store.behind(self._write)
        return False

    def _write(self, conn: Connection) -> None:
        rows, self.pending = self.pending, []
        if rows:
            self.store.q.nonce.run_many(conn, rows)
        if self.purge_at:
            conn.execute(delete(nonces).where(nonces.c.node == self.node, nonces.c.expires < self.purge_at))
            self.purge_at = 0.0


@dataclass(frozen=True)
class World:
    """What every node of one simulation shares."""

    topology: Topology
    spec: Spec  # the base spec the handlers speak
    store: Store
    clock: Clock
    faults: Faults


class Node:
    """One simulated system behind one gateway: a province's hospital face, its insured face, the hub."""

    hospital_facing = False  # hospitals sign in (9001) and may use only their own paasid
    pays = False  # the insured side: where the pay-twice-on-retry mutant bites

    def __init__(
        self,
        name: str,
        admdvs: str,
        world: World,
        accounts: Mapping[str, Account],
        wire: Spec | None = None,
    ) -> None:
        self.name, self.admdvs, self.world = name, admdvs, world
        self.store, self.clock, self.faults = world.store, world.clock, world.faults
        spec = self.spec = world.spec  # base shapes for handlers
        self.wire = wire or spec  # the regional profile on the wire
        self.adapter = Adapter(spec, self.wire)
        self.accounts = accounts
        # a platform's gateway: the senders (fixmedins_code, first two digits of mdtrtarea_admvs) each paasid
        # may name in an envelope (a hospital's gateway checks fixmedins_code alone: hospital_facing)
        self.speaks_for: Mapping[str, frozenset[tuple[str, str]]] = {}
        self.handlers: dict[str, Handler] = {}
        self.nonces = Nonces(self.store, name, float(spec.transport["signature"]["nonce_ttl_seconds"]))
        self.header_names = {k: v.lower() for k, v in spec.transport["signature"]["headers"].items()}
        self.refmsgids = envelope.RefMsgIds(admdvs, start=int(time.time() * 1000) % 10**9 * 10)
        self.observers: list[Observer] = []  # off by default: a his-role suite watching what hospitals send
        self.answered = Answered(self.store.msgids(name))

    # ── answering ──────────────────────────────────────────────────

    def respond(
        self,
        infno: str | None,
        infcode: int,
        *,
        output: Any = None,
        err_msg: str | None = None,
        warn_msg: str | None = None,
        received: datetime | None = None,
    ) -> dict[str, Any]:
        """A response envelope in the wire shape, checked against the spec before it may leave."""
        now = self.clock.now()
        if infno and output is not None:
            output = self.adapter.to_wire(infno, "output", output)
        body = envelope.response(
            self.wire,
            infcode=infcode,
            refmsgid=self.refmsgids(now),
            received=received or now,
            responded=now,
            output=output,
            err_msg=err_msg,
            warn_msg=warn_msg,
        )
        if infno in self.wire.transactions and not self.faults.unchecked():  # else it goes out as it is
            report = validate(self.wire, body, infno=infno, response=True)
            if not report.valid:
                raise InvalidAnswer(f"{infno}: " + "; ".join(map(str, report.errors)))
        return body

    def refuse(self, infno: str | None, code: str, /, **values: Any) -> dict[str, Any]:
        err = self.spec.errors[code]
        zh, _ = err.render(**values)
        return self.respond(infno, err.infcode, err_msg=f"[{code}]{zh}"[:200])

    def record(self, conn: Connection, ctx: Context, body: Mapping[str, Any]) -> None:
        q = self.store.q
        forgets = self.hospital_facing and self.faults.mutant("forget-answered-msgid")
        if self.faults.mutant("pay-twice-on-retry") or forgets:  # the mutants keep only the latest answer
            q.forget.run(conn, k_node=self.name, k_msgid=ctx.msgid)
        self.answered.add(ctx.msgid)
        q.record.run(
            conn,
            node=self.name,
            msgid=ctx.msgid,
            infno=ctx.infno,
            digest=ctx.digest or self.digest(ctx.message),
            sender=ctx.account.code,
            response=dict(body),
            effect=ctx.effect,
            sim_time=ctx.now,
        )

    def silent(self, infno: str | None) -> bool:
        """Whether this node is down for ``infno`` now (a fault): it takes nothing and answers nothing."""
        return False

    # ── the pipeline ───────────────────────────────────────────────

    async def handle(
        self,
        headers: Mapping[str, str],
        body: bytes | Mapping[str, Any],
        path_infno: str | None = None,
        refusal: Refusal | Unchecked | None = UNCHECKED,
    ) -> Answer:
        """Answer one message. ``refusal``: what :meth:`verify` said of its headers, when the caller asked
        before reading the body (the HTTP entry, asgi.py); a refused message's body may then be empty."""
        try:
            answer = await self._handle(headers, body, path_infno, refusal)
        except Exception:  # the last line: a simulator bug answers -1, never an HTTP 500
            log.exception("%s: unexpected error", self.name)
            answer = Answer(200, self.refuse(None, SYSTEM_ERROR, detail="模拟器内部错误，已记录"))
        try:
            await self.store.durable()  # nothing is answered before it is committed
        except Exception:
            log.exception("%s: commit failed", self.name)
            answer = Answer(200, self.refuse(None, SYSTEM_ERROR, detail="提交失败"))
        delay = self.faults.value("latency", self.name, path_infno)
        if delay:
            await asyncio.sleep(delay)
        for observe in self.observers:  # empty unless someone watches: no cost on the hot path
            try:
                observe(headers, body, path_infno, answer)
            except Exception:
                log.exception("%s: an observer failed", self.name)
        return answer

    async def _handle(
        self,
        headers: Mapping[str, str],
        body: bytes | Mapping[str, Any],
        path_infno: str | None,
        refusal: Refusal | Unchecked | None,
    ) -> Answer:
        if isinstance(refusal, Unchecked):
            refusal = self.verify(headers)
        if refusal:
            answer = self.refuse(None, refusal[0], **refusal[1])
            remembers = self.hospital_facing and self.faults.mutant("remember-gateway-refusals")
            refused = _parse(body) if remembers else None
            if isinstance(refused, dict):
                self.remember(refused, headers, answer)  # the mutant: a refused message takes its msgid
            return Answer(200, answer)
        if self.silent(path_infno):
            return Answer(503, None)  # down (a fault): nothing done, nothing answered
        message = _parse(body)
        if isinstance(message, str):
            return Answer(200, self.refuse(None, "E1007", detail=message))
        infno = str(message.get("infno") or "")
        if path_infno and infno != path_infno:
            return Answer(200, self.refuse(None, "E1012", infno=infno or "（空）", expected=path_infno))
        if infno not in self.handlers:
            return Answer(200, self.refuse(None, "E1008", infno=infno or "（空）"))
        report = validate(self.wire, message, infno=infno)
        if self.faults.mutant("card-sn-optional"):  # a card visit without card_sn is let through
            report.issues = [
                i for i in report.issues if not (i.code in ("E1001", "E1009") and i.path.endswith("card_sn"))
            ]
        if not report.valid:
            first = report.errors[0]
            more = f"（另有{len(report.errors) - 1}处错误）" if len(report.errors) > 1 else ""
            return Answer(
                200, self.respond(infno, first.infcode, err_msg=f"[{first.code}]{first.zh}{more}"[:200])
            )
        account = self.accounts[self._header(headers, "paasid") or ""]
        if (
            self.hospital_facing
            and message["fixmedins_code"] != account.code
            and not self.faults.mutant("any-paasid-any-institution")
        ):  # a hospital speaks for itself only
            return Answer(200, self.refuse(infno, "E2008", fixmedins_code=message["fixmedins_code"]))
        if not self.hospital_facing:  # a platform speaks for itself, the hub for the platforms it relays
            sender = (str(message["fixmedins_code"]), str(message["mdtrtarea_admvs"])[:2])
            allowed = self.speaks_for.get(account.paasid, frozenset())
            if sender not in allowed and not self.faults.mutant("any-platform-any-province"):
                if any(code == sender[0] for code, _ in allowed):
                    region = message["mdtrtarea_admvs"]
                    return Answer(200, self.refuse(infno, "E2009", mdtrtarea_admvs=region))
                return Answer(200, self.refuse(infno, "E2008", fixmedins_code=message["fixmedins_code"]))
        ctx = Context(
            self,
            message,
            str(message["msgid"]),
            self.adapter.to_base(infno, "input", message.get("input") or {}),
            infno,
            account,
            self.clock.now(),
        )
        query = self.spec.transaction(infno).query
        if not query:  # taken now: a message it cannot be taken of must not reach a handler that books
            try:
                ctx.digest = self.digest(message)
            except orjson.JSONEncodeError as e:  # nested deeper than orjson writes (255 levels)
                if self.faults.mutant("deep-json-crashes"):
                    return Answer(500, None)
                return Answer(200, self.refuse(infno, "E1007", detail=f"嵌套层数过多（{e}）"))
        forgets = self.hospital_facing and self.faults.mutant("forget-answered-msgid")
        stored = None if query or forgets else self.stored(ctx.msgid)
        if stored is not None and not (self.pays and self.faults.mutant("pay-twice-on-retry")):
            if stored["digest"] != ctx.digest and not self.faults.mutant("msgid-ignores-content"):
                return Answer(200, self.refuse(infno, "E6001", msgid=ctx.msgid))
            return Answer(200, dict(stored["response"]))
        if (
            self.hospital_facing
            and infno != "9001"
            and not self.signed_in(message)
            and not self.faults.mutant("no-sign-in-check")
        ):
            return Answer(200, self.refuse(infno, "E2006"))
        try:
            await self.handlers[infno](ctx)
        except BusinessError as e:
            return Answer(200, self._record_refusal(ctx, self.refuse(infno, e.code, **e.values)))
        except Relayed as e:
            return Answer(
                200, self._record_refusal(ctx, self.respond(infno, e.infcode, err_msg=e.err_msg[:200]))
            )
        except InvalidAnswer as e:
            log.error("%s: the simulator produced an invalid answer: %s", self.name, e)
            return Answer(200, self.refuse(infno, SYSTEM_ERROR, detail="模拟器应答不符合规范，已记录"))
        if ctx.answered is None:
            raise RuntimeError(f"{self.name} {infno}: the handler answered nothing")
        if self.faults.take("drop-answer", self.name, infno):
            return Answer(504, None)  # committed, but the answer never reaches the caller
        held = self.faults.value("hold-answer", self.name, infno, default=HOLD)
        if held is not None and self.faults.take("hold-answer", self.name, infno):
            return Answer(504, None, hold=held)  # committed; the caller waits until its read timeout
        return Answer(200, ctx.answered, ctx.file)

    def wants_refused_bodies(self) -> bool:
        """Whether a message refused at the gateway is read all the same: only for someone watching (a
        his-role suite judges what a HIS sent), or for the mutant that remembers refusals."""
        return bool(self.observers) or (
            self.hospital_facing and self.faults.mutant("remember-gateway-refusals")
        )

    def digest(self, message: Mapping[str, Any]) -> str:
        return digest(message, main_node_only=self.faults.mutant("msgid-fingerprint-main-node"))

    def verify(self, headers: Mapping[str, str]) -> Refusal | None:
        now = time.time()
        trusting = not self.hospital_facing and self.faults.mutant("trusted-link-no-replay-check")
        if self.faults.mutant("no-timestamp-window") or trusting:
            stamp = self._header(headers, "timestamp") or ""
            now = float(stamp) if stamp.isdigit() else now  # the mutant: any timestamp is "now"
        unchecked = self.faults.mutant("accept-replayed-nonce") or trusting
        replayed = _never if unchecked else self.nonces.seen_before
        refusal = transport.verify(self.spec, headers, secret_for=self._secret, now=now, nonce_seen=replayed)
        if refusal and refusal[0] == "E2002" and self.faults.mutant("accept-bad-signature"):
            refusal = None
        if refusal and refusal[0] == "E2001":
            unsigned = refusal[1]["header"] == self.spec.transport["signature"]["headers"]["signature"]
            refusal = None if unsigned and self.faults.mutant("accept-unsigned") else refusal
        return refusal

    def _secret(self, paasid: str) -> str | None:
        account = self.accounts.get(paasid)
        return account.secret if account else None

    def remember(
        self, message: Mapping[str, Any], headers: Mapping[str, str], body: Mapping[str, Any]
    ) -> None:
        """Record a gateway refusal as the msgid's answer (only the remember-gateway-refusals mutant does)."""
        if not message.get("msgid") or self.stored(str(message["msgid"])) is not None:
            return
        self.answered.add(str(message["msgid"]))
        with self.store.begin() as conn:
            self.store.q.record.run(
                conn,
                node=self.name,
                msgid=str(message["msgid"]),
                infno=str(message.get("infno") or ""),
                digest=self.digest(message),
                sender=self._header(headers, "paasid") or "",
                response=dict(body),
                effect=None,
                sim_time=self.clock.now(),
            )

    def _header(self, headers: Mapping[str, str], key: str) -> str | None:
        """One of the x-tif headers (``paasid``, ``timestamp``, …) by the name the spec gives it."""
        return transport.header(headers, self.header_names[key])

    def stored(self, msgid: str) -> Mapping[str, Any] | None:
        if msgid not in self.answered:  # certainly new: most messages
            return None
        with self.store.read() as conn:
            return self.store.q.message.first(conn, k_node=self.name, k_msgid=msgid)

    def _record_refusal(self, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
        # a business refusal is this msgid's answer; after -1, or "busy" (the original is still in flight,
        # and must be able to record its own answer), the caller may retry with the same msgid
        busy = str(body.get("err_msg", "")).startswith("[E6005]")
        if body["infcode"] == -2 and not busy and not self.spec.transaction(ctx.infno).query:
            with self.store.begin() as conn:
                self.record(conn, ctx, body)
        return body

    def signed_in(self, message: Mapping[str, Any]) -> bool:
        sign_no = message.get("sign_no")
        if not sign_no:
            return False
        with self.store.read() as conn:
            row = self.store.q.signin.first(conn, k_node=self.name, k_sign_no=sign_no)
        return (
            row is not None
            and row.fixmedins_code == message.get("fixmedins_code")
            and (not row.signed_out or self.faults.mutant("sign-out-ignored"))
        )


def _never(paasid: str, nonce: str) -> bool:
    return False


def _parse(body: bytes | Mapping[str, Any]) -> dict[str, Any] | str:
    """The message, or why it is not one."""
    if not isinstance(body, bytes):  # a message handed over in process (isinstance of an ABC is slow)
        return dict(body)
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        return str(e)[:80]
    return message if isinstance(message, dict) else f"got {type(message).__name__}"
