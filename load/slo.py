"""The service-level check after a load run: did every request name hold its targets (服务水平目标)?

Locust's ``<prefix>_stats.csv`` gives, per request name (an infno, or a whole episode), the request and
failure counts and the response-time percentiles; the spec's ``service.yaml`` (which a regional profile may
override) gives the targets. ``check`` is a pure function of the two, so a planted breach can be shown to be
caught; ``read_stats`` reads the CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..specs.model import Spec

Metric = Literal["p95", "p99", "errors"]
COLUMNS = ("Type", "Name", "Request Count", "Failure Count", "95%", "99%")  # of Locust 2.x's stats CSV


@dataclass(frozen=True)
class Stat:
    """One row of Locust's stats: a request name's counts and percentiles (None: it had no requests)."""

    name: str
    requests: int
    failures: int
    p95_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Verdict:
    """One metric of one request name against its target; ``ok`` also when there was nothing to measure."""

    name: str
    metric: Metric
    target: float
    actual: float | None
    ok: bool


def _percentile(text: str) -> float | None:
    """Locust writes N/A for the percentiles of a name with no requests."""
    return None if text.strip() in ("", "N/A") else float(text)


def _stat(row: Mapping[str, str]) -> Stat:
    return Stat(
        name=row["Name"],
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        p95_ms=_percentile(row["95%"]),
        p99_ms=_percentile(row["99%"]),
    )


def read_stats(path: Path) -> list[Stat]:
    """Every request name of a Locust ``<prefix>_stats.csv``, without the closing Aggregated row."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: not a Locust stats CSV, it lacks the columns {', '.join(missing)}")
        return [_stat(row) for row in reader if row["Type"] or row["Name"] != "Aggregated"]


def _verdict(name: str, metric: Metric, target: float | None, actual: float | None) -> Verdict | None:
    if target is None:
        return None
    return Verdict(name, metric, target, actual, actual is None or actual <= target)


def check(stats: Iterable[Stat], spec: Spec) -> list[Verdict]:
    """Each stat against ``spec.target(name)``: one verdict per metric that has a target."""
    verdicts: list[Verdict] = []
    for stat in stats:
        target = spec.target(stat.name)
        measured = stat.requests > 0
        for verdict in (
            _verdict(stat.name, "p95", target.p95_ms, stat.p95_ms),
            _verdict(stat.name, "p99", target.p99_ms, stat.p99_ms),
            _verdict(stat.name, "errors", target.error_rate, stat.error_rate if measured else None),
        ):
            if verdict is not None:
                verdicts.append(verdict)
    return verdicts


def failed(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """The verdicts whose target was missed."""
    return [v for v in verdicts if not v.ok]
