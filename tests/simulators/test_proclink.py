"""The link between yidi's processes: calls to a node in another yidi process go over one connection per
process, judged by the node as any message is; a peer that is not yidi is spoken to over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yidi.simulators import proclink
from yidi.simulators.app import Options
from yidi.simulators.store import hub_records, insured_settlements

from .conftest import free_port, serving
from .test_episodes import count, settled

PROVINCES = ["510000", "500000", "610000", "330000", "110000"]


def test_a_settlement_across_two_processes_goes_over_the_link(tmp_path: Path) -> None:
    hub_port, provinces_port = free_port(), free_port()
    hub_options = Options(
        db=f"sqlite:///{tmp_path / 'hub.db'}",
        only=["hub"],
        peers={f"province:{p}": f"http://127.0.0.1:{provinces_port}/prov/{p}" for p in PROVINCES},
    )
    provinces_options = Options(
        db=f"sqlite:///{tmp_path / 'provinces.db'}",
        only=[f"province:{p}" for p in PROVINCES],
        peers={"hub": f"http://127.0.0.1:{hub_port}/hub"},
    )
    with (
        serving(hub_options, port=hub_port) as hub,
        serving(provinces_options, port=provinces_port) as provinces,
    ):
        settled(provinces, "P01", "H50000000001")  # Sichuan's insured person in Chongqing: through the hub
        assert count(hub, hub_records) == 1 and count(provinces, insured_settlements) == 1
        for served in (hub, provinces):  # each reached the other over its one connection, still open
            (channel,) = served.sim.channels.values()
            assert channel.connected


def test_a_peer_that_is_not_yidi_refuses_the_link() -> None:
    async def run() -> None:
        async def not_yidi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(not_yidi, "127.0.0.1", 0)
        async with httpx.AsyncClient() as client:
            channel = proclink.Channel(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", client)
            with pytest.raises(proclink.Refused):
                await channel.call("/hub/Y2304", {}, {})
        server.close()

    asyncio.run(run())


def test_unknown_paths_are_404_and_an_unsigned_message_is_refused_over_the_link(tmp_path: Path) -> None:
    with serving(Options(db=f"sqlite:///{tmp_path / 's.db'}")) as served:

        async def run() -> list[tuple[int, object]]:
            async with httpx.AsyncClient() as client:
                channel = proclink.Channel(served.url, client)
                unsigned = {"infno": "Y2304"}
                calls = [channel.call("/nowhere/1", {}, {}), channel.call("/hub/Y2304", {}, unsigned)]
                answers = await asyncio.gather(*calls)  # made in one turn: sent in one frame
                await channel.close()
                return answers

        (missing, unsigned) = asyncio.run(run())
    assert missing[0] == 404
    status, body = unsigned
    assert status == 200 and body["infcode"] == -1 and body["err_msg"]  # type: ignore[index]


class Recorded(proclink.Frames):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[object] = []

    def received(self, frame: list[list[object]]) -> None:
        self.frames.append(frame)


def framed(batch: list[list[object]]) -> bytes:
    body = orjson.dumps(batch)
    return proclink.LENGTH.pack(len(body)) + body


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_frames_are_read_whole_however_the_bytes_arrive(cuts: list[int]) -> None:
    batches = [[[1, "/hub/Y2304", {"a": "是"}, {"n": n}]] for n in range(3)]
    stream = b"".join(framed(b) for b in batches)
    reader = Recorded()
    at = 0
    for size in [*cuts, len(stream)]:  # pieces of any size, a piece holding parts of two frames
        reader.data_received(stream[at : at + size])
        at += size
    assert reader.frames == batches and not reader.buffer


def test_a_lost_connection_fails_the_calls_waiting_and_the_next_call_connects_again(tmp_path: Path) -> None:
    with serving(Options(db=f"sqlite:///{tmp_path / 's.db'}")) as served:

        async def run() -> tuple[BaseException, int]:
            async with httpx.AsyncClient() as client:
                channel = proclink.Channel(served.url, client)
                await channel.call("/nowhere/1", {}, {})
                assert channel._caller is not None
                waiting = asyncio.ensure_future(channel.call("/nowhere/2", {}, {}))
                await asyncio.sleep(0)  # sent, not answered yet
                channel._caller.transport.abort()
                with pytest.raises(ConnectionError) as lost:
                    await waiting
                status, _ = await channel.call("/nowhere/3", {}, {})  # a new connection
                await channel.close()
                return lost.value, status

        error, status = asyncio.run(run())
    assert served.url in str(error) and status == 404
