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

JSON = [(b"content-type", b"application/json")]
OCTETS = [(b"content-type", b"application/octet-stream")]
ALLOW = [(b"allow", b"POST")]


class MessageRoutes:
    def __init__(self, route: Route, prefixes: tuple[str, ...], rest: ASGIApp) -> None:
        self.route, self.prefixes, self.rest = route, prefixes, rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not path.startswith(self.prefixes):
            return await self.rest(scope, receive, send)
        if scope["method"] != "POST":  # a message path takes messages only: 405 where a node answers
            served = self.route(path) is not None
            status, detail = (405, "messages are POSTed") if served else (404, f"no node is served at {path}")
            return await _send(
                send, status, orjson.dumps({"detail": detail}), [*JSON, *(ALLOW if served else [])]
            )
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        to = self.route(path)
        answer = None if to is None else await to[0].handle(headers, body, to[1])
        if answer is not None and answer.hold and await _gone_within(receive, answer.hold):
            return  # the client gave up (its read timeout): nothing to send, as on a real lost answer
        if answer is None:
            status, content, kind = 404, orjson.dumps({"detail": f"no node is served at {path}"}), JSON
        elif answer.file is not None:
            status, content, kind = answer.status, answer.file, OCTETS
        else:
            status = answer.status
            content, kind = (b"", []) if answer.body is None else (orjson.dumps(answer.body), JSON)
        await _send(send, status, content, kind)


async def _gone_within(receive: Receive, seconds: float) -> bool:
    """Whether the client disconnects within ``seconds`` (its body has been read: only that can come)."""

    async def disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnect(), seconds)
    except TimeoutError:
        return False
    return True


async def _send(send: Send, status: int, content: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(content)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": content})
