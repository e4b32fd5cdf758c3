"""The partition of the nodes over processes: who serves what, where each process's state is, how each
process reaches the others, and the roster naming every node at its true URL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from yidi.actors import admin
from yidi.simulators import partition
from yidi.simulators.admin import FORWARDED
from yidi.simulators.app import Options, Simulation
from yidi.simulators.background import free_port

PROVINCES = ["510000", "500000", "610000", "330000", "110000"]


def test_the_hub_alone_and_the_provinces_dealt_to_the_other_processes() -> None:
    assert partition.groups(PROVINCES, 3) == [
        ["hub"],
        ["province:510000", "province:610000", "province:110000"],
        ["province:500000", "province:330000"],
    ]
    assert partition.groups(PROVINCES, 9)[1:] == [[f"province:{p}"] for p in PROVINCES]  # one each at most
    with pytest.raises(ValueError):
        partition.groups(PROVINCES, 1)


def test_beside_a_group_the_hub_joins_the_smallest_and_every_process_serves_provinces() -> None:
    assert partition.groups(PROVINCES, 2, hub_alone=False) == [
        ["hub", "province:500000", "province:330000"],
        ["province:510000", "province:610000", "province:110000"],
    ]
    layout = partition.groups(PROVINCES, 3, hub_alone=False)
    assert layout[0][0] == "hub" and all(any(n.startswith("province:") for n in g) for g in layout)
    assert sorted(n for g in layout for n in g if n != "hub") == sorted(f"province:{p}" for p in PROVINCES)


def test_sqlite_gets_a_file_per_process_and_postgresql_is_shared() -> None:
    assert partition.database_for("sqlite:////d/state.db", 0) == "sqlite:////d/state-hub.db"
    assert partition.database_for("sqlite:////d/state.db", 2) == "sqlite:////d/state-2.db"
    pg = "postgresql+psycopg://yidi@db/yidi"
    assert partition.database_for(pg, 0) == partition.database_for(pg, 2) == pg


def test_each_process_serves_its_nodes_and_reaches_every_other_at_its_process() -> None:
    deployment = partition.plan(PROVINCES, 3, db="sqlite:////d/s.db", ports=[9000, 9001, 9002])
    hub, first, _ = deployment.processes
    cmd = partition.command(deployment, first, "127.0.0.1", ["--crowd", "2000"])
    only = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--only"]
    peers = dict(cmd[i + 1].split("=", 1) for i, a in enumerate(cmd) if a == "--peer")
    assert only == first.nodes and "--crowd" in cmd and cmd[cmd.index("--db") + 1] == "sqlite:////d/s-1.db"
    assert cmd[cmd.index("--public-url") + 1] == "http://127.0.0.1:9001"  # its roster names it there
    assert peers == {
        "hub": "http://127.0.0.1:9000/hub",
        "province:500000": "http://127.0.0.1:9002/prov/500000",
        "province:330000": "http://127.0.0.1:9002/prov/330000",
    }
    assert partition.bases(peers) == {
        "hub": "http://127.0.0.1:9000",
        "province:500000": "http://127.0.0.1:9002",
        "province:330000": "http://127.0.0.1:9002",
    }
    assert partition.bases({"hub": "https://real-hub.example/api"}) == {}  # a real system: not yidi's paths
    assert deployment.url == hub.url and len(deployment.databases) == 3


def test_a_process_serving_one_province_names_every_node_at_its_true_url(tmp_path: Path) -> None:
    peers = {"hub": "http://10.0.0.1:8000/hub"} | {
        f"province:{p}": f"http://10.0.0.2:8001/prov/{p}" for p in PROVINCES if p != "510000"
    }
    sim = Simulation(
        Options(
            db=f"sqlite:///{tmp_path / 's.db'}",
            only=["province:510000"],
            peers=peers,
            base_url="http://10.0.0.3:8002",
        )
    )
    roster = sim.roster()
    assert roster["hub"]["url"] == "http://10.0.0.1:8000/hub"
    where = {
        p["admdvs"]: (p["insured_url"], {h["gateway"] for h in p["hospitals"]}) for p in roster["provinces"]
    }
    assert where["510000"] == ("http://10.0.0.3:8002/prov/510000", {"http://10.0.0.3:8002/gw/510000"})
    assert where["500000"] == ("http://10.0.0.2:8001/prov/500000", {"http://10.0.0.2:8001/gw/500000"})
    sim.store.close()


def test_a_partition_is_published_at_a_host_each_process_at_its_port() -> None:
    ports = [9000, 9001, 9002]
    deployment = partition.plan(PROVINCES, 3, db="sqlite:////d/s.db", ports=ports, host="sim.example")
    cmd = partition.command(deployment, deployment.processes[2], "0.0.0.0", [])
    assert cmd[cmd.index("--public-url") + 1] == "http://sim.example:9002"
    assert "--peer" in cmd and "hub=http://sim.example:9000/hub" in cmd


@pytest.mark.parametrize("url", ["http://sim.example:9000", "http://sim.example/yidi", "https://sim.example"])
def test_a_public_url_with_a_port_or_a_path_is_refused_for_a_partition(url: str) -> None:
    from typer.testing import CliRunner

    from yidi.cli import app

    result = CliRunner().invoke(app, ["serve", "--workers", "3", "--public-url", url], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "its own port" in result.output, result.output


def test_the_clock_moved_at_one_process_moves_in_every_process(tmp_path: Path) -> None:
    """A partitioned deployment keeps one simulated time: a treatment province and the insured one behind the
    hub must agree on the day (a year's end, a month's clearing)."""
    ports = [free_port(), free_port()]
    deployment = partition.plan(PROVINCES, 2, db=f"sqlite:///{tmp_path}/s.db", ports=ports)
    hub, provinces = deployment.processes
    with partition.running(deployment, token="t"):
        moved = httpx.post(
            f"{provinces.url}/admin/clock",
            json={"set": "2026-12-31T23:59:00", "freeze": True},
            headers=admin.headers("t"),
        ).raise_for_status()
        assert moved.json()["processes"] == {hub.url: "ok"}
        for p in deployment.processes:
            state = httpx.get(f"{p.url}/admin/clock", headers=admin.headers("t")).raise_for_status().json()
            assert state["now"].startswith("2026-12-31 23:59:00") and state["frozen"], (p.url, state)
        # passed on once: a process answering a forwarded move does not forward it again
        again = httpx.post(
            f"{hub.url}/admin/clock",
            json={"advance_seconds": 60},
            headers={**admin.headers("t"), FORWARDED: "1"},
        ).raise_for_status()
        assert "processes" not in again.json()
        there = httpx.get(f"{provinces.url}/admin/clock", headers=admin.headers("t")).json()
        assert there["now"].startswith("2026-12-31 23:59:00")
