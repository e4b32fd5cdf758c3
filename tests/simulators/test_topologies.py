"""Regional profiles on the wire, and nodes split across servers (--only / --peer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from yidi.simulators.app import Options

from .conftest import Served, free_port, serving
from .test_episodes import count, settled


@pytest.fixture
def guangzhou(tmp_path: Path) -> Iterator[Served]:
    with serving(Options(db=f"sqlite:///{tmp_path / 'gz.db'}", spec="V1.0+guangzhou")) as handle:
        yield handle


def test_a_whole_episode_in_guangzhou_shapes(guangzhou: Served) -> None:
    his, episode = settled(guangzhou, "P01", "H50000000001")
    settle = next(r for r in reversed(episode.replies) if r.infno == "2304")
    assert (
        "mdtrtinfo" in settle.request["input"] and "data" not in settle.request["input"]
    )  # as Guangzhou sends it
    cancel = his.cancel_settlement(episode)
    assert "mdtrtinfo" in cancel.request["input"] and cancel.ok
    admission = next(r for r in episode.replies if r.infno == "2401")
    reversal = his.call(
        "2601",
        {"data": {"psn_no": episode.psn_no, "omsgid": admission.msgid, "oinfno": "2401"}},
        insuplc_admdvs=episode.insuplc_admdvs,
        check=False,
    )
    assert "omsgid" in reversal.request["input"]  # 2601's fields sit directly in input
    assert reversal.infcode == -2 and reversal.err_msg.startswith(
        "[E4002]"
    )  # understood; refused by the life-cycle


def test_a_base_shaped_message_is_refused_by_a_guangzhou_gateway(guangzhou: Served) -> None:
    from yidi.actors.his import His
    from yidi.specs import loader

    base = His(loader.load(), guangzhou.hospital("H50000000001"))
    base.sign_no = guangzhou.his(
        "H50000000001"
    ).sign_no  # signed in properly; only the 2404 has the wrong shape
    reply = base.call(
        "2404", {"data": {"mdtrt_id": "x", "psn_no": "y"}}, insuplc_admdvs="500000", check=False
    )
    assert reply.infcode == -1 and "input.mdtrt_id" in reply.err_msg


def test_a_province_served_apart_from_the_hub(tmp_path: Path) -> None:
    """Sichuan in one server, the hub and the other provinces in another: a real SUT could be either."""
    ports = free_port(), free_port()
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    with (
        serving(
            Options(
                db=f"sqlite:///{tmp_path / 'a.db'}",
                only=["hub", *(f"province:{p}" for p in ("500000", "610000", "330000", "110000"))],
                peers={"province:510000": f"{urls[1]}/prov/510000"},
            ),
            port=ports[0],
        ) as rest,
        serving(
            Options(
                db=f"sqlite:///{tmp_path / 'b.db'}", only=["province:510000"], peers={"hub": f"{urls[0]}/hub"}
            ),
            port=ports[1],
        ) as sichuan,
    ):
        _, there = settled(rest, "P01", "H50000000001")  # Sichuan-insured, treated in Chongqing
        _, here = settled(sichuan, "P12", "H51010000001")  # Chongqing-insured, treated in Sichuan
        assert there.settlement and here.settlement
        from yidi.simulators.store import hub_records, insured_settlements

        assert count(rest, hub_records) == 2  # the hub saw both
        assert count(sichuan, insured_settlements) == 1 and count(rest, insured_settlements) == 1
