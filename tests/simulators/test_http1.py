"""The lean HTTP/1.1 client of the links between processes: kept connections, answers whole, a connection the
peer closed meanwhile replaced."""

from __future__ import annotations

import asyncio

import pytest

from yidi.simulators import http1


async def _server(answers: list[bytes], close_after: int = 0) -> tuple[asyncio.Server, list[int]]:
    """A server answering each request with the next of ``answers`` (raw bytes), sent in two pieces;
    it closes a connection after ``close_after`` requests (0: never). Returns the connections it saw."""
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(len(seen))
        served = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length")
            )
            await reader.readexactly(length)
            answer = answers.pop(0)
            writer.write(answer[:10])
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(answer[10:])
            await writer.drain()
            served += 1
            if close_after and served >= close_after:
                writer.close()
                return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, seen


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


def test_kept_connection_and_chunks() -> None:
    async def run() -> None:
        chunked = b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
        server, seen = await _server([_ok(b'{"x":1}'), chunked, _ok(b"")])
        client = http1.Client(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        assert await client.post("/hub/2304", b"{}", {"x-tif-paasid": "p"}) == (200, b'{"x":1}')
        assert await client.post("/hub/2304", b"{}", {}) == (200, b'{"a":1}')
        assert await client.post("/hub/2304", b"{}", {}) == (200, b"")
        assert len(seen) == 1  # one connection carried all three
        client.close()
        server.close()

    asyncio.run(run())


def test_connection_closed_by_the_peer_is_replaced() -> None:
    async def run() -> None:
        server, seen = await _server([_ok(b"1"), _ok(b"2")], close_after=1)
        client = http1.Client(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        assert await client.post("/a", b"", {}) == (200, b"1")
        await asyncio.sleep(0.05)  # the peer has closed the kept connection meanwhile
        assert await client.post("/a", b"", {}) == (200, b"2")
        assert len(seen) == 2
        client.close()
        server.close()

    asyncio.run(run())


def test_refused_and_timed_out_are_os_errors() -> None:
    async def run() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # never answers
        client = http1.Client(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", timeout=0.2)
        with pytest.raises(TimeoutError):
            await client.post("/a", b"", {})
        server.close()
        await server.wait_closed()
        with pytest.raises(OSError):
            await http1.Client("http://127.0.0.1:1").post("/a", b"", {})

    asyncio.run(run())
