"""How a Locust user's HIS desks send: geventhttpclient (Locust's own ``FastHttpUser`` client, a C parser
over gevent's sockets) behind ``HisClient``'s client seam, one kept-alive connection per gateway.

httpx under gevent cost a user 0.8–0.9 ms of CPU a request, most of what ``yidi load`` spent; this costs
about 0.35 ms (``bench/his_client.py``). What a HIS relies on stays as it was: the same JSON body and
headers, transport failures as httpx's own exceptions (``HisClient`` turns them into ``LostAnswer``), and a
POST never retried (geventhttpclient retries idempotent methods only).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPParseError


class Answer:
    """What ``HisClient.send`` reads of an answer: the status, the content type, the body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, content_type: str, content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, {"content-type": content_type}, content

    def json(self) -> Any:
        return orjson.loads(self.content)


class Gateways:
    """A HIS desk's connections, one per origin. One the server has closed is noticed before it is used
    (geventhttpclient checks); one idle longer than ``keepalive_expiry`` is dropped before use as well: the
    server (uvicorn: 5 s) may be closing it just then, and a POST written into a closing connection is lost,
    not retried."""

    def __init__(self, *, timeout: float, tls: ssl.SSLContext, keepalive_expiry: float = 2.0) -> None:
        self.timeout, self.tls, self.expiry = timeout, tls, keepalive_expiry
        self.clients: dict[str, tuple[HTTPClient, float]] = {}  # origin → its client, when last used

    def post(self, url: str, *, json: Any, headers: Mapping[str, str]) -> Answer:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        client = self._client(origin)
        body = orjson.dumps(json)
        try:
            r = client.post(parts.path, body=body, headers={**headers, "content-type": "application/json"})
            try:
                content = r.read()
            finally:
                r.release()
        except (OSError, HTTPParseError) as e:  # refused, reset, timed out, closed before the answer
            self._drop(origin)
            raise httpx.TransportError(f"{origin}: {e!r}") from e
        self.clients[origin] = (client, time.monotonic())
        return Answer(r.status_code, str(r.get("content-type") or ""), content)

    def _client(self, origin: str) -> HTTPClient:
        kept = self.clients.get(origin)
        if kept is not None and time.monotonic() - kept[1] <= self.expiry:
            return kept[0]
        self._drop(origin)
        tls = {"ssl_context_factory": lambda **_: self.tls} if origin.startswith("https:") else {}
        return HTTPClient.from_url(
            origin, concurrency=1, connection_timeout=self.timeout, network_timeout=self.timeout, **tls
        )

    def _drop(self, origin: str) -> None:
        kept = self.clients.pop(origin, None)
        if kept is not None:
            kept[0].close()

    def close(self) -> None:
        for origin in list(self.clients):
            self._drop(origin)
