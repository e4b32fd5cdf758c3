"""How nodes reach each other: in-process when one server hosts both, over the link between processes
(``proclink``) when yidi serves them in different ones, over HTTP when a real system stands in for one.
Either way the message is a signed, spec-valid envelope."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from ..specs import envelope, transport
from ..specs.model import Spec
from ..world.clock import Clock, unix_now
from ..world.topology import Account
from . import proclink
from .faults import Faults
from .gateway import Answer
from .store import Store, settings

if TYPE_CHECKING:
    from .gateway import Node


class Unreachable(Exception):
    """No answer came back: refused, timed out, or not a 200 with a JSON body."""


class Link(Protocol):
    name: str

    async def post(self, infno: str, message: Mapping[str, Any], headers: Mapping[str, str]) -> Answer: ...


class LocalLink:
    def __init__(self, name: str, node: Callable[[], Node]) -> None:
        self.name, self._node = name, node

    async def post(self, infno: str, message: Mapping[str, Any], headers: Mapping[str, str]) -> Answer:
        return await self._node().handle(headers, message, infno)


class HttpLink:
    """A node in another process or machine: yidi's own over the link to its process
    (``proclink``), anyone else (a real system standing in for a node) over HTTP with kept connections."""

    def __init__(
        self,
        name: str,
        base: str,
        client: httpx.AsyncClient,
        channels: dict[str, proclink.Channel] | None = None,
    ) -> None:
        """``channels``: the node is yidi's, in another process: calls go over the link to that
        process (one per process, shared by the links to its nodes), HTTP if it refuses."""
        self.name, self.base, self.client = name, base.rstrip("/"), client
        parts = urlsplit(self.base)
        origin = f"http://{parts.netloc}"
        self.path = parts.path
        self.channel = None
        if channels is not None and parts.scheme == "http":
            self.channel = channels.setdefault(origin, proclink.Channel(origin, client))

    async def post(self, infno: str, message: Mapping[str, Any], headers: Mapping[str, str]) -> Answer:
        if self.channel is not None:
            try:
                status, body = await self.channel.call(f"{self.path}/{infno}", headers, message)
                return Answer(status, body if status == 200 else None)
            except proclink.Refused:
                self.channel = None  # not yidi at the other end: HTTP from now on
            except OSError as e:  # refused, closed, timed out
                raise Unreachable(f"{self.name}: {e!r}") from e
        try:
            r = await self.client.post(
                f"{self.base}/{infno}",
                content=orjson.dumps(message),
                headers={**headers, "content-type": "application/json"},
            )
        except httpx.HTTPError as e:
            raise Unreachable(f"{self.name}: {e!r}") from e
        try:
            return Answer(r.status_code, r.json() if r.status_code == 200 else None)
        except ValueError as e:
            raise Unreachable(f"{self.name}: not JSON") from e


class Peer:
    """A node as another node calls it, with the caller's credentials."""

    def __init__(
        self,
        link: Link,
        spec: Spec,
        account: Account,
        *,
        name: str,
        admdvs: str,
        clock: Clock,
        faults: Faults,
        caller: str,
        store: Store,
    ) -> None:
        self.link, self.spec, self.account, self.clock, self.faults = link, spec, account, clock, faults
        self.store = store
        self.sender_name, self.sender_admdvs, self.caller = name, admdvs, caller
        self.msgids = envelope.MsgIds(account.code)

    def request(self, infno: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "") -> dict[str, Any]:
        return envelope.request(
            self.spec,
            infno,
            input,
            msgid=self.msgids(self.clock.now()),
            when=self.clock.now(),
            mdtrtarea_admvs=self.sender_admdvs,
            insuplc_admdvs=insuplc_admdvs,
            recer_sys_code="YBXT",
            infver=self.spec.version,
            opter_type="2",
            opter=self.account.code,
            opter_name=self.sender_name,
            fixmedins_code=self.account.code,
            fixmedins_name=self.sender_name,
        )

    async def send(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """The answer's envelope, or Unreachable. Duplicate delivery (a fault) sends it twice."""
        infno = str(message["infno"])
        await self.store.durable()  # what the call depends on is committed before it leaves
        if self.link.name == "hub" and self.faults.take("hub-outage", "hub", infno):
            raise Unreachable("hub: outage (fault)")
        # an insured platform is reached as province:{admdvs} from the hub, insured:{admdvs} from its own
        # province's treatment face: one fault scoped by its admdvs silences both. Taken by whichever end has
        # it: here, or the platform itself (InsuredNode.silent) when its process is another
        if self.link.name != "hub" and self.faults.take("insured-outage", self.link.name, infno):
            raise Unreachable(f"{self.link.name}: outage (fault)")
        answer = await self._post(infno, message)
        if self.faults.take("duplicate-delivery", self.caller, infno):
            answer = await self._post(infno, message)
        if answer.status != 200 or answer.body is None:
            raise Unreachable(f"{self.link.name}: HTTP {answer.status}")
        return answer.body

    async def _post(self, infno: str, message: Mapping[str, Any]) -> Answer:
        headers = transport.sign_headers(self.spec, self.account.paasid, self.account.secret, now=unix_now())
        return await self.link.post(infno, message, headers)

    async def call(self, infno: str, input: Mapping[str, Any], *, insuplc_admdvs: str = "") -> dict[str, Any]:
        return await self.send(self.request(infno, input, insuplc_admdvs=insuplc_admdvs))


class Serials:
    """Serial numbers for generated IDs that survive restarts: blocks are reserved in the store, so a
    crash skips at most one block and never repeats a number. A block reserved in a batch that commits
    nothing is forgotten with it (its numbers went only to that batch's rolled-back rows): kept, it would
    be reserved again from the same start once used up, and hand out numbers already committed."""

    BLOCK = 1000

    def __init__(self, store: Store, key: str) -> None:
        self.store, self.key = store, f"serial:{key}"
        self._next, self._end = 0, 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            if self._next >= self._end:
                with self.store.begin() as conn:
                    row = conn.execute(settings.select().where(settings.c.key == self.key)).first()
                    start = int(row.value) if row else 1
                    values = {"value": start + self.BLOCK}
                    if row:
                        conn.execute(settings.update().where(settings.c.key == self.key).values(**values))
                    else:
                        conn.execute(settings.insert().values(key=self.key, **values))
                self._next, self._end = start, start + self.BLOCK
                self.store.if_lost(self._forget)
            serial = self._next
            self._next += 1
            return serial

    def _forget(self) -> None:
        with self._lock:
            self._next = self._end = 0
