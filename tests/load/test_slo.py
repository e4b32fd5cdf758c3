"""The service-level check reads Locust's stats CSV as Locust writes it and holds each request name to the
spec's targets: a pass, a p95 breach, an error-rate breach, no requests, and a profile's own targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from yidi.load import slo
from yidi.specs import loader

# The header of Locust 2.x's <prefix>_stats.csv (locust.stats.StatsCSV.requests_csv_columns with the default
# PERCENTILES_TO_REPORT), and rows as it writes them: Aggregated last, N/A for a name with no requests.
STATS_CSV = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,\
Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
POST,1101,1000,0,120,150.3,40.1,2500.7,812.0,16.6,0.0,120,140,160,180,300,450,800,1200,2400,2500,2500
POST,2304,1000,0,900,1100.2,300.5,9900.1,2048.0,16.6,0.0,900,1000,1200,1400,2500,3500,5000,6000,9000,9900,9900
POST,2305,0,0,0,0.0,0,0,0.0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
POST,inpatient episode,500,25,9000,9500.0,5000.0,28000.0,0.0,8.3,0.4,9000,10000,11000,12000,15000,18000,\
21000,25000,28000,28000,28000
,Aggregated,2500,25,300,2000.1,40.1,28000.0,1200.0,41.5,0.4,300,600,900,1000,3000,9000,15000,20000,28000,\
28000,28000
"""


@pytest.fixture
def stats(tmp_path: Path) -> list[slo.Stat]:
    path = tmp_path / "locust_stats.csv"
    path.write_text(STATS_CSV, encoding="utf-8")
    return slo.read_stats(path)


def verdicts(stats: list[slo.Stat], ref: str | None = None) -> dict[tuple[str, str], slo.Verdict]:
    return {(v.name, v.metric): v for v in slo.check(stats, loader.load(ref))}


def test_the_stats_are_read_without_the_aggregated_row(stats: list[slo.Stat]) -> None:
    assert [s.name for s in stats] == ["1101", "2304", "2305", "inpatient episode"]
    assert stats[1] == slo.Stat("2304", 1000, 0, 3500, 6000)
    assert stats[3].error_rate == pytest.approx(0.05)


def test_a_name_without_requests_has_no_percentiles_and_fails_nothing(stats: list[slo.Stat]) -> None:
    assert (stats[2].p95_ms, stats[2].p99_ms, stats[2].error_rate) == (None, None, 0.0)
    assert all(v.ok and v.actual is None for (name, _), v in verdicts(stats).items() if name == "2305")


def test_a_request_within_its_targets_passes_every_metric(stats: list[slo.Stat]) -> None:
    got = verdicts(stats)
    assert [got["1101", m] for m in ("p95", "p99", "errors")] == [
        slo.Verdict("1101", "p95", 2000, 450, True),
        slo.Verdict("1101", "p99", 5000, 1200, True),
        slo.Verdict("1101", "errors", 0.001, 0.0, True),
    ]


def test_a_p95_breach_and_an_error_rate_breach_fail(stats: list[slo.Stat]) -> None:
    got = verdicts(stats)
    assert got["2304", "p95"] == slo.Verdict("2304", "p95", 3000, 3500, False)
    assert got["2304", "p99"].ok  # 6000 within 8000
    assert got["inpatient episode", "errors"] == slo.Verdict("inpatient episode", "errors", 0.01, 0.05, False)
    assert got["inpatient episode", "p95"].ok and got["inpatient episode", "p99"].ok
    assert {(v.name, v.metric) for v in slo.failed(got.values())} == {
        ("2304", "p95"),
        ("inpatient episode", "errors"),
    }


def test_a_profile_of_ones_own_changes_the_verdict(stats: list[slo.Stat], tmp_path: Path) -> None:
    own = tmp_path / "lenient.yaml"
    targets = {"2304": {"p95_ms": 4000}, "1101": {"p95_ms": 400}, "inpatient episode": {"error_rate": None}}
    own.write_text(yaml.safe_dump({"profile": "lenient", "service": {"targets": targets}}), encoding="utf-8")
    got = verdicts(stats, str(own))
    assert got["2304", "p95"] == slo.Verdict("2304", "p95", 4000, 3500, True)
    assert got["1101", "p95"] == slo.Verdict("1101", "p95", 400, 450, False)
    # null removes the episode's own error rate: the default's 0.1 % applies, and 5 % still misses it
    assert got["inpatient episode", "errors"].target == 0.001 and not got["inpatient episode", "errors"].ok


def test_a_metric_without_a_target_gives_no_verdict(stats: list[slo.Stat], tmp_path: Path) -> None:
    own = tmp_path / "p95-only.yaml"
    targets = {"default": {"p99_ms": None, "error_rate": None}}
    own.write_text(yaml.safe_dump({"profile": "p95-only", "service": {"targets": targets}}), encoding="utf-8")
    got = verdicts(stats, str(own))
    assert {m for (name, m) in got if name == "1101"} == {"p95"}
    assert {m for (name, m) in got if name == "2304"} == {"p95", "p99"}  # 2304 names its own p99


def test_a_csv_that_is_not_locusts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("Name,Count\n2304,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks the columns Type, Request Count"):
        slo.read_stats(path)
