"""The link between yidi's own processes: one WebSocket per peer process, calls multiplexed on it and batched.

Over HTTP, every call between processes costs a request's parse, an ASGI cycle and a task at the callee,
and a write and a wake-up at each end, several times what the in-process call costs. Here every call made
in one turn of the caller's event loop goes out in one frame, ``[[id, path, headers, message], …]``, and
the answers come back batched the same way, ``[[id, status, body], …]``, each as soon as it is ready. The
callee hands each message to its node as an in-process call does (``Node.handle``: signature, validation,
idempotency, all of it), so a message is judged exactly as over HTTP.

A peer that is not yidi (a real system standing in for a node) refuses the WebSocket: the link then speaks
HTTP to it (``links.HttpLink``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import orjson
import websockets

from .asgi import LINK, Route

log = logging.getLogger("yidi.simulators")

PATH = LINK  # where a yidi process accepts its peers' WebSocket
TIMEOUT = 30.0  # a call not answered in this long is unreachable, as over HTTP

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Refused(ConnectionError):
    """The peer does not speak the link (not yidi, or an older one)."""


class Channel:
    """The caller's end: one connection to a peer process, shared by every link to a node there."""

    def __init__(self, origin: str) -> None:
        self.uri = origin.replace("http://", "ws://", 1).rstrip("/") + PATH
        self._ws: Any = None
        self._connecting: asyncio.Task[Any] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[int, Any]]] = {}
        self._out: list[list[Any]] = []  # calls made this turn of the loop, not yet sent

    async def call(
        self, path: str, headers: Mapping[str, str], message: Mapping[str, Any]
    ) -> tuple[int, Any]:
        """The status and the answer's JSON body (None if it had none)."""
        ws = self._ws if self._ws is not None else await self._connect()
        loop = asyncio.get_running_loop()
        ident = next(self._ids)
        self._waiting[ident] = answer = loop.create_future()
        if not self._out:
            loop.call_soon(self._flush, ws)
        self._out.append([ident, path, dict(headers), message])
        timer = loop.call_later(TIMEOUT, _expire, answer)
        try:
            status, body = await answer
            return status, body
        finally:
            timer.cancel()
            self._waiting.pop(ident, None)

    async def _connect(self) -> Any:
        if self._connecting is None:  # one handshake, however many calls wait for it
            self._connecting = connecting = asyncio.get_running_loop().create_task(self._open())
            connecting.add_done_callback(self._opened)
        return await asyncio.shield(self._connecting)

    def _opened(self, connecting: asyncio.Task[Any]) -> None:
        self._connecting = None
        if not connecting.cancelled():
            connecting.exception()  # retrieved here: the callers waiting raise it

    async def _open(self) -> Any:
        try:
            ws = await websockets.connect(self.uri, max_size=None, compression=None, open_timeout=10)
        except websockets.InvalidStatus as e:
            raise Refused(f"{self.uri}: {e}") from e
        except (TimeoutError, OSError, websockets.WebSocketException) as e:
            raise ConnectionError(f"{self.uri}: {e!r}") from e
        self._ws = ws
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))
        return ws

    def _flush(self, ws: Any) -> None:
        batch, self._out = self._out, []
        if batch:
            asyncio.get_running_loop().create_task(self._send(ws, orjson.dumps(batch), batch))

    async def _send(self, ws: Any, frame: bytes, batch: list[list[Any]]) -> None:
        try:
            await ws.send(frame)
        except websockets.WebSocketException as e:
            self._lost(ws, e, [call[0] for call in batch])

    async def _read(self, ws: Any) -> None:
        try:
            async for frame in ws:
                for ident, status, body in orjson.loads(frame):
                    waiter = self._waiting.get(ident)
                    if waiter is not None and not waiter.done():
                        waiter.set_result((status, body))
        except websockets.WebSocketException as e:
            self._lost(ws, e, list(self._waiting))
        else:
            self._lost(ws, ConnectionError("closed by the peer"), list(self._waiting))

    def _lost(self, ws: Any, error: Exception, idents: list[int]) -> None:
        if self._ws is ws:
            self._ws = None  # the next call connects again
        for ident in idents:
            waiter = self._waiting.get(ident)
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError(f"{self.uri}: {error!r}"))

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()


def _expire(answer: asyncio.Future[Any]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError("no answer in time"))


async def serve(route: Route, scope: Scope, receive: Receive, send: Send) -> None:
    """The callee's end (an ASGI WebSocket): each call handed to its node, the answers sent in batches."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    loop = asyncio.get_running_loop()
    ready: list[list[Any]] = []
    tasks: set[asyncio.Task[None]] = set()
    closed = False

    async def flush() -> None:
        batch = ready[:]
        ready.clear()
        if batch and not closed:
            with contextlib.suppress(Exception):  # the caller gone: its calls are unreachable there
                await send({"type": "websocket.send", "bytes": orjson.dumps(batch)})

    async def answer(ident: int, path: str, headers: Mapping[str, str], message: Any) -> None:
        to = route(path)
        body: Any
        if to is None:
            status, body = 404, {"detail": f"no node is served at {path}"}
        else:
            reply = await to[0].handle(headers, message, to[1])
            status, body = reply.status, reply.body
        if not ready:  # the answers ready in this turn of the loop go in one frame
            loop.call_soon(keep, flush)
        ready.append([ident, status, body])

    def keep(work: Callable[[], Awaitable[None]]) -> None:
        task: asyncio.Task[None] = loop.create_task(work())  # type: ignore[arg-type]
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            closed = True
            return
        frame = event.get("bytes") or event.get("text") or b"[]"
        for ident, path, headers, message in orjson.loads(frame):
            task = loop.create_task(answer(ident, path, headers, message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)  # kept until done: the loop holds tasks weakly
