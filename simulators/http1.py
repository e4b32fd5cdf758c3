"""A lean HTTP/1.1 client for the links between nodes in different processes: persistent connections, kept
in a pool per peer, and nothing per call but one write and one parse.

httpx costs about a millisecond of CPU per call (its pool, its locks, anyio's checks of which event loop
runs), several times what the node it calls spends on the message; a split deployment paid that on each
of a settlement's hops. Here a call is a request written in one piece on an open connection and the
answer parsed once it is whole (Content-Length, or chunks). TLS peers keep httpx (see ``links``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

IDLE_SECONDS = 4.0  # a connection idle longer is dropped: uvicorn closes its end after 5 s


class Closed(ConnectionError):
    """The connection closed before the whole answer came (``early``: before any of it)."""

    def __init__(self, message: str, *, early: bool) -> None:
        super().__init__(message)
        self.early = early


class _Connection(asyncio.Protocol):
    """One connection: one request at a time, its answer assembled as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.open = True
        self.used = time.monotonic()
        self.keep = True  # the answer did not say Connection: close

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.waiter is not None and not self.waiter.done():
            early = not self.buffer
            self.waiter.set_exception(Closed(f"connection closed: {exc!r}", early=early))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            try:
                answer = self._answer()
            except ValueError as e:
                self.waiter.set_exception(e)
                return
            if answer is not None:
                self.waiter.set_result(answer)

    def _answer(self) -> tuple[int, bytes] | None:
        """The status and body once the answer is whole (taken from the buffer), else None."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        self.keep = fields.get("connection", "").lower() != "close"
        start = end + 4
        if "content-length" in fields:
            total = start + int(fields["content-length"])
            if len(buffer) < total:
                return None
            body = bytes(buffer[start:total])
            del buffer[:total]
            return status, body
        if fields.get("transfer-encoding", "").lower() == "chunked":
            return self._chunked(status, start)
        raise ValueError("an answer with neither Content-Length nor chunks")

    def _chunked(self, status: int, start: int) -> tuple[int, bytes] | None:
        buffer, at, body = self.buffer, start, bytearray()
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
            at = line_end + 2
            if len(buffer) < at + size + 2:
                return None
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", at - 2)
                if trailer_end < 0:
                    return None
                del buffer[: trailer_end + 4]
                return status, bytes(body)
            body += buffer[at : at + size]
            at += size + 2


class Client:
    """POSTs to one origin (``http://host:port``) over a pool of kept connections."""

    def __init__(self, origin: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(origin)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{origin}: the lean client speaks plain http only")
        self.host, self.port = parts.hostname, parts.port or 80
        self.authority = f"{self.host}:{self.port}".encode()
        self.timeout = timeout
        self._idle: list[_Connection] = []

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """The status and body of the answer. A kept connection the peer closed meanwhile (nothing of the
        answer came) is replaced once: the request never reached the peer."""
        lines = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items())
        request = (
            b"POST %s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n"
            % (path.encode(), self.authority, len(body), lines)
        ) + body
        for attempt in (0, 1):
            conn, kept = await self._connection()
            try:
                return await self._exchange(conn, request)
            except Closed as e:
                if not (kept and e.early) or attempt:
                    raise
        raise AssertionError("unreachable")

    async def _connection(self) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.open and now - conn.used < IDLE_SECONDS:
                return conn, True
            conn.transport.close()  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)  # asyncio sets TCP_NODELAY
        return conn, False

    async def _exchange(self, conn: _Connection, request: bytes) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        conn.waiter = waiter
        conn.transport.write(request)  # type: ignore[union-attr]
        timer = loop.call_later(self.timeout, _expire, conn)
        try:
            answer = await waiter
        except BaseException:
            conn.transport.close()  # type: ignore[union-attr]  # a half-read answer spoils the connection
            raise
        finally:
            timer.cancel()
            conn.waiter = None
        conn.used = time.monotonic()
        if conn.keep and conn.open and not conn.buffer:
            self._idle.append(conn)
        else:
            conn.transport.close()  # type: ignore[union-attr]
        return answer

    def close(self) -> None:
        for conn in self._idle:
            conn.transport.close()  # type: ignore[union-attr]
        self._idle.clear()


def _expire(conn: _Connection) -> None:
    if conn.waiter is not None and not conn.waiter.done():
        conn.waiter.set_exception(TimeoutError("no answer in time"))
