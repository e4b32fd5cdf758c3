"""The ASGI entry: messages go straight to their node, everything else to the Starlette app.

A message's route is one of three path shapes (``/gw/{province}/…``, ``/hub/{infno}``,
``/prov/{province}/{infno}``). Starlette's request object, router and response cost about as much
as a whole sign-in's pipeline (bench/gateway_stages.py), so the message paths skip them; the admin
and card routes, which a person calls now and then, keep Starlette.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from .gateway import Node

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# a message path → the node that answers there and the infno it names, or None: no node is served there
Route = Callable[[str], tuple[Node, str] | None]

LINK = "/_link"  # GET: the port where a yidi process takes its peer processes' link (proclink)
JSON = [(b"content-type", b"application/json")]
OCTETS = [(b"content-type", b"application/octet-stream")]
ALLOW = [(b"allow", b"POST")]


class MessageRoutes:
    def __init__(
        self,
        route: Route,
        prefixes: tuple[str, ...],
        rest: ASGIApp,
        max_body: int,
        link_port: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.route, self.prefixes, self.rest, self.max_body = route, prefixes, rest, max_body
        self.link_port = link_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path == LINK and (port := self.link_port()) is not None:  # yidi's other processes (proclink)
            return await answer(send, 200, orjson.dumps({"port": port}), JSON, keep=True)
        if not path.startswith(self.prefixes):
            return await self.rest(scope, receive, send)
        to = self.route(path)
        if to is None:  # the body is not read: the connection closes after the answer
            return await answer(send, 404, orjson.dumps({"detail": f"no node is served at {path}"}), JSON)
        if scope["method"] != "POST":  # a message path takes messages only
            return await answer(send, 405, orjson.dumps({"detail": "messages are POSTed"}), [*JSON, *ALLOW])
        node, infno = to
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        # the x-tif headers first (R-SEC-08): a request that does not verify is answered without its body
        # being read, unless someone watches what hospitals send (the his-role suites)
        refusal = node.verify(headers)
        if refusal is not None and not node.wants_refused_bodies():
            reply = await node.handle(headers, b"", infno, refusal)
            return await answer(send, 200, orjson.dumps(reply.body), JSON)
        body = await read(receive, self.max_body, headers.get("content-length"))
        if body is None:
            too_long = node.refuse(None, "E2010", limit=str(self.max_body))
            return await answer(send, 200, orjson.dumps(too_long), JSON)
        reply = await node.handle(headers, body, infno, refusal)
        if reply.hold and await gone_within(receive, reply.hold):
            return  # the client gave up (its read timeout): nothing to send, as on a real lost answer
        if reply.file is not None:
            await answer(send, reply.status, reply.file, OCTETS, keep=True)
        elif reply.body is None:
            await answer(send, reply.status, b"", [], keep=True)
        else:
            await answer(send, reply.status, orjson.dumps(reply.body), JSON, keep=True)


async def read(receive: Receive, limit: int, declared: str | None) -> bytes | None:
    """The request body, or None once it is longer than ``limit`` bytes (by its Content-Length, before
    anything is read, or as it arrives). Its parts are joined once, not added one to the next (that copies
    the whole body again for every part)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    parts: list[bytes] = []
    size, more = 0, True
    while more:
        event = await receive()
        part: bytes = event.get("body", b"")
        size, more = size + len(part), bool(event.get("more_body"))
        if size > limit:
            return None
        parts.append(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)  # nearly every message comes in one part


async def gone_within(receive: Receive, seconds: float) -> bool:
    """Whether the client disconnects within ``seconds`` (its body has been read: only that can come)."""

    async def disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnect(), seconds)
    except TimeoutError:
        return False
    return True


CLOSE = [(b"connection", b"close")]


async def answer(send: Send, status: int, content: bytes, kind: list[Any], *, keep: bool = False) -> None:
    """The response; ``keep``: the body was read, the connection may serve another request. Otherwise it
    closes after the answer, so that what is left of an unread body is not waited for."""
    headers = [*kind, (b"content-length", str(len(content)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers if keep else headers + CLOSE}
    )
    await send({"type": "http.response.body", "body": content})
