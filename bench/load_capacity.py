"""The highest cross-province inpatient episode rate the built-in simulators hold on this machine with the
ledger check passing, its ratio to today's national peak hour, and the load generator's own cost.

    python bench/load_capacity.py [--rates 10,20,30,35,40,45,50] [--seconds 30] [--workers 0]

Each rate is one ``yidi load --shape flat --rate R --duration S`` run (simulators and Locust on the same
machine, as a user would run them): held means 99 % of the episodes done within the run, the ledger
consistent and every service-level target met. The runs stop at the first rate not held (the knee).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from yidi.load import shapes

NATIONAL_PEAK = shapes.day("day-2025").rate(10.5 * 3600)  # settlements/s in 2025's peak hour (≈36)


def run(rate: float, seconds: int, workers: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "yidi", "load", "--shape", "flat", "--rate", str(rate)]
    cmd += ["--duration", str(seconds), "--workers", str(workers), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = {r["Name"]: r for r in csv.DictReader((out / "locust_stats.csv").open(encoding="utf-8"))}
    episode = rows.get("inpatient episode", {})
    return {
        **summary,
        "passed": done.returncode == 0,
        "episode_p95_ms": episode.get("95%"),
        "rps": float(rows["Aggregated"]["Requests/s"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,20,30,35,40,45,50", help="episodes/s to try, in order")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=0, help="Locust worker processes (0: one process)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="yidi-capacity-"))
    print(f"flat inpatient load, {args.seconds} s per rate, Locust workers: {args.workers or 'none'}")
    head = ("asked/s", "done", "behind s", "p95 ms", "req/s", "Locust req/CPU s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(head, (8, 6, 9, 7, 7, 17), strict=True)), " verdict")
    best = 0.0
    for rate in (float(r) for r in args.rates.split(",")):
        r = run(rate, args.seconds, args.workers, work / f"rate-{rate:g}")
        verdict = "held" if r["passed"] else "NOT held" if not r["held"] else "targets or ledger failed"
        print(
            f"{rate:8.1f} {r['in_time']:6d} {r['behind_s']:9.1f} {r['episode_p95_ms'] or '-':>7}"
            f" {r['rps']:7.0f} {r['requests_per_cpu_s'] or '-':>17}  {verdict}"
        )
        if not r["passed"]:
            break
        best = rate
    print(
        f"highest rate held: {best:g} cross-province inpatient episodes/s"
        f" = {best / NATIONAL_PEAK:.2f} × today's national peak hour ({NATIONAL_PEAK:.0f} settlements/s)"
    )


if __name__ == "__main__":
    main()
