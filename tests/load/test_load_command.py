"""`yidi load` end to end: Locust against the built-in simulators, its reports, and the ledger check."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from yidi.actors import admin
from yidi.simulators.background import free_port

LOAD = [sys.executable, "-m", "yidi", "load", "--shape", "step", "--duration", "6"]


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one-process", "two-workers"])
def test_a_short_step_load_writes_locust_reports_and_passes_the_ledger(
    tmp_path: Path, workers: list[str]
) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [*LOAD, "--out", str(out), *workers],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "账本一致 ledger OK" in done.stdout
    rows = {r["Name"]: r for r in csv.DictReader((out / "locust_stats.csv").open(encoding="utf-8"))}
    assert {"1101", "2401", "2301", "2304", "inpatient episode"} <= set(rows)  # each transaction its own name
    assert int(rows["inpatient episode"]["Request Count"]) > 0
    assert (out / "locust.html").stat().st_size > 10_000
    assert len(list(out.glob("acknowledged-*.jsonl"))) == (2 if workers else 1)  # one file per process
    assert "E6001" not in done.stdout  # workers of one hospital never reuse each other's msgids
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["held"] and summary["in_time"] == summary["asked"] > 0 and summary["ledger"] == []
    assert {v["name"] for v in summary["slo"]} >= {"2304", "inpatient episode"}
    assert all(v["ok"] for v in summary["slo"]) and "服务水平目标" in done.stdout


def test_workers_started_elsewhere_join_the_master_and_report_back(tmp_path: Path) -> None:
    """``--remote-workers`` and ``--join``, as on several machines (here two processes on this one)."""
    out, port = tmp_path / "run", str(free_port())
    # the simulators' admin credential, told to the workers (they read the roster from /admin/roster)
    env = {**os.environ, admin.ENV: admin.new_token()}
    master = subprocess.Popen(
        [*LOAD, "--out", str(out), "--remote-workers", "1", "--master-port", port],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    worker = subprocess.run(
        [*LOAD[:4], "--join", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=180, env=env
    )
    stdout, _ = master.communicate(timeout=180)
    assert master.returncode == 0 and worker.returncode == 0, stdout[-3000:] + worker.stderr[-3000:]
    assert "yidi load --join" in stdout and f"{admin.ENV}=" in stdout and "账本一致 ledger OK" in stdout
    (acknowledged,) = out.glob("acknowledged-*.jsonl")  # sent back by the worker, written by the master
    assert acknowledged.read_text(encoding="utf-8").count("setl_id") > 0
