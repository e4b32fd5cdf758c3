"""The link between yidi's processes: calls to a node in another yidi process go over one WebSocket per
process, judged by the node as any message is; a peer that is not yidi is spoken to over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from yidi.simulators import wslink
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
        for served in (hub, provinces):  # each reached the other over its one WebSocket, still open
            (channel,) = served.sim.channels.values()
            assert channel._ws is not None


def test_a_peer_that_is_not_yidi_refuses_the_link() -> None:
    async def run() -> None:
        async def not_yidi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(not_yidi, "127.0.0.1", 0)
        channel = wslink.Channel(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        with pytest.raises(wslink.Refused):
            await channel.call("/hub/Y2304", {}, {})
        server.close()

    asyncio.run(run())


def test_unknown_paths_are_404_and_an_unsigned_message_is_refused_over_the_link(tmp_path: Path) -> None:
    with serving(Options(db=f"sqlite:///{tmp_path / 's.db'}")) as served:

        async def run() -> list[tuple[int, object]]:
            channel = wslink.Channel(served.url)
            calls = [channel.call("/nowhere/1", {}, {}), channel.call("/hub/Y2304", {}, {"infno": "Y2304"})]
            answers = await asyncio.gather(*calls)  # made in one turn: sent in one frame
            await channel.close()
            return answers

        (missing, unsigned) = asyncio.run(run())
    assert missing[0] == 404
    status, body = unsigned
    assert status == 200 and body["infcode"] == -1 and body["err_msg"]  # type: ignore[index]
