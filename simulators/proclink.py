"""The link between yidi's own processes: one TCP connection per peer process, calls multiplexed on it and
batched, in length-prefixed frames.

Over HTTP, every call between processes costs a request's parse, an ASGI cycle and a task at the callee,
and a write and a wake-up at each end, several times what the in-process call costs. A WebSocket through
the ASGI server still cost about 50 µs a side a message, 130–180 µs when the process had fallen asleep
(its framing, the ASGI events, two tasks a call): a partition crosses a link four times a relayed message.
Here the frames are read and written by an ``asyncio.Protocol`` directly: every call made in one turn of the
caller's event loop goes out in one frame, ``[[id, path, headers, message], …]``, and the answers come back
batched the same way, ``[[id, status, body], …]``, each as soon as it is ready. The callee hands each
message to its node as an in-process call does (``Node.handle``: signature, validation, idempotency, all of
it), so a message is judged exactly as over HTTP.

A process listens for its peers on a port of its own (``Options.link_port``; any free one by default) and
says which at ``GET /_link``. A peer that is not yidi (a real system standing in for a node) has no such
path: the link then speaks HTTP to it (``links.HttpLink``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import orjson

from .asgi import LINK, Route

log = logging.getLogger("yidi.simulators")

TIMEOUT = 30.0  # a call not answered in this long is unreachable, as over HTTP
LENGTH = struct.Struct(">I")  # a frame: its length, then its JSON


class Refused(ConnectionError):
    """The peer does not speak the link (not yidi, or an older one)."""


class Frames(asyncio.Protocol):
    """Length-prefixed JSON frames over one connection; ``received`` takes each one whole."""

    transport: asyncio.Transport

    def __init__(self) -> None:
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream's (uvloop's is not a subclass)

    def data_received(self, data: bytes) -> None:
        head = LENGTH.size
        if not self.buffer and len(data) >= head and LENGTH.unpack_from(data)[0] == len(data) - head:
            self.received(orjson.loads(memoryview(data)[head:]))  # one whole frame: most often
            return
        self.buffer += data
        while len(self.buffer) >= LENGTH.size:
            (size,) = LENGTH.unpack_from(self.buffer)
            end = LENGTH.size + size
            if len(self.buffer) < end:
                return
            frame = orjson.loads(bytes(self.buffer[LENGTH.size : end]))
            del self.buffer[:end]
            self.received(frame)

    def send(self, batch: list[list[Any]]) -> None:
        if not self.transport.is_closing():
            body = orjson.dumps(batch)
            self.transport.write(LENGTH.pack(len(body)) + body)

    def received(self, frame: list[list[Any]]) -> None:
        raise NotImplementedError


class Channel:
    """The caller's end: one connection to a peer process, shared by every link to a node there."""

    def __init__(self, origin: str, client: httpx.AsyncClient) -> None:
        self.origin, self.client = origin.rstrip("/"), client
        self._caller: _Caller | None = None
        self._connecting: asyncio.Task[_Caller] | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[int, Any]]] = {}
        self._out: list[list[Any]] = []  # calls made this turn of the loop, not yet sent

    @property
    def connected(self) -> bool:
        return self._caller is not None

    async def call(
        self, path: str, headers: Mapping[str, str], message: Mapping[str, Any]
    ) -> tuple[int, Any]:
        """The status and the answer's JSON body (None if it had none)."""
        caller = self._caller if self._caller is not None else await self._connect()
        loop = asyncio.get_running_loop()
        ident = next(self._ids)
        self._waiting[ident] = answer = loop.create_future()
        if not self._out:
            loop.call_soon(self._flush, caller)
        self._out.append([ident, path, dict(headers), message])
        timer = loop.call_later(TIMEOUT, _expire, answer)
        try:
            status, body = await answer
            return status, body
        finally:
            timer.cancel()
            self._waiting.pop(ident, None)

    async def _connect(self) -> _Caller:
        if self._connecting is None:  # one connection, however many calls wait for it
            self._connecting = connecting = asyncio.get_running_loop().create_task(self._open())
            connecting.add_done_callback(self._opened)
        return await asyncio.shield(self._connecting)

    def _opened(self, connecting: asyncio.Task[_Caller]) -> None:
        self._connecting = None
        if not connecting.cancelled():
            connecting.exception()  # retrieved here: the callers waiting raise it

    async def _open(self) -> _Caller:
        try:  # where the process listens for its peers
            r = await self.client.get(self.origin + LINK, timeout=10)
        except httpx.HTTPError as e:
            raise ConnectionError(f"{self.origin}: {e!r}") from e
        try:
            port = int(r.json()["port"]) if r.status_code == 200 else None
        except (ValueError, KeyError, TypeError):
            port = None
        if port is None:
            raise Refused(f"{self.origin}{LINK}: {r.status_code}, not a yidi process")
        host = urlsplit(self.origin).hostname or "127.0.0.1"
        try:
            _, caller = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(lambda: _Caller(self), host, port), 10
            )
        except (TimeoutError, OSError) as e:
            raise ConnectionError(f"{host}:{port}: {e!r}") from e
        self._caller = caller
        return caller

    def _flush(self, caller: _Caller) -> None:
        batch, self._out = self._out, []
        if batch:
            caller.send(batch)

    def _answered(self, answers: list[list[Any]]) -> None:
        for ident, status, body in answers:
            waiter = self._waiting.get(ident)
            if waiter is not None and not waiter.done():
                waiter.set_result((status, body))

    def _lost(self, caller: _Caller, error: BaseException) -> None:
        if self._caller is caller:
            self._caller = None  # the next call connects again
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"{self.origin}: {error!r}"))

    async def close(self) -> None:
        if self._caller is not None:
            self._caller.transport.close()


class _Caller(Frames):
    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def received(self, frame: list[list[Any]]) -> None:
        self.channel._answered(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.channel._lost(self, exc or ConnectionError("closed by the peer"))


def _expire(answer: asyncio.Future[Any]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError("no answer in time"))


class Callee(Frames):
    """The callee's end of one peer's connection: each call handed to its node, the answers sent in
    batches (those ready in one turn of the loop in one frame)."""

    def __init__(self, route: Route) -> None:
        super().__init__()
        self.route = route
        self.ready: list[list[Any]] = []
        self.tasks: set[asyncio.Task[None]] = set()  # kept until done: the loop holds tasks weakly

    def received(self, frame: list[list[Any]]) -> None:
        loop = asyncio.get_running_loop()
        for ident, path, headers, message in frame:
            task = loop.create_task(self.answer(ident, path, headers, message))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def answer(self, ident: int, path: str, headers: Mapping[str, str], message: Any) -> None:
        to = self.route(path)
        body: Any
        if to is None:
            status, body = 404, {"detail": f"no node is served at {path}"}
        else:
            try:
                reply = await to[0].handle(headers, message, to[1])
                status, body = reply.status, reply.body
            except Exception:  # a bug in a node: the caller hears a 500, as over HTTP
                log.exception("%s: the node failed", path)
                status, body = 500, None
        if not self.ready:
            asyncio.get_running_loop().call_soon(self.flush)
        self.ready.append([ident, status, body])

    def flush(self) -> None:
        batch, self.ready = self.ready, []
        self.send(batch)  # the caller gone: its calls are unreachable there


async def listen(route: Route, host: str, port: int = 0) -> asyncio.Server:
    """Take this process's peers' connections on ``host``:``port`` (0: any free port)."""
    return await asyncio.get_running_loop().create_server(lambda: Callee(route), host, port)
