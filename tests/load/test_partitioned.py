"""A partitioned deployment under `yidi load`: the hub and two groups of provinces in three processes, each
with its own SQLite file (or the hub beside one of two groups: two processes); the ledger read from all of
them, then the month cleared on the hub's books."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from yidi.simulators import books

YIDI = [sys.executable, "-m", "yidi"]


@pytest.mark.parametrize(
    ("layout", "processes"), [("--hub-alone", 3), ("--hub-beside", 2)], ids=["hub-alone", "hub-beside"]
)
def test_hub_and_two_province_groups_hold_the_ledger_and_clear_the_month(
    tmp_path: Path, layout: str, processes: int
) -> None:
    out, db = tmp_path / "run", f"sqlite:///{tmp_path / 'state.db'}"
    loaded = subprocess.run(
        [*YIDI, "load", "--shape", "flat", "--rate", "4", "--duration", "6",
         "--serve-workers", str(processes), layout,
         "--db", db, "--clock", "2026-11-02T09:00:00", "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stdout[-3000:] + loaded.stderr[-2000:]
    assert "账本一致 ledger OK" in loaded.stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["held"] and summary["ledger"] == [] and summary["done"] > 0
    hub, *provinces = (f"sqlite:///{tmp_path / f'state-{n}.db'}" for n in ("hub", "1", "2")[:processes])
    # each process kept its own nodes' books: the hub's records in the hub's file (with its group's
    # settlements, beside one), the settlements the hospitals made in the groups' files, every one of which
    # took traffic (the roster sent it there)
    beside = {"treatment", "insured"} if layout == "--hub-beside" else set()
    assert {e.book for e in books.ledger(hub).entries} == {"hub"} | beside
    for group in provinces:
        assert {e.book for e in books.ledger(group).entries} == {"treatment", "insured"}
    seen = [json.loads(line) for f in out.glob("acknowledged-*.jsonl") for line in f.read_text().splitlines()]
    cleared = subprocess.run(
        [*YIDI, "clear", "--month", "202611", "--db", hub, "--out", str(tmp_path / "clear")],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert cleared.returncode == 0 and "平账 balanced" in cleared.stdout, cleared.stdout[-3000:]
    month = json.loads((tmp_path / "clear" / "clearing.json").read_text(encoding="utf-8"))
    cross = [s for s in seen if s["cross"]]
    assert sum(s["settlements"] for s in month["statements"]) == len(cross) > 0
    assert round(sum(s["amount"] for s in month["statements"]) * 100) == sum(
        s["fund"] for s in cross if not s["cancelled"]
    )
