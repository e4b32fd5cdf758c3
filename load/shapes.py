"""Load shapes: the settlement rate a run must hold, as a pure function of the time into the run.

A day shape spreads a day's settlements over the hours as hospitals work (admissions 08–10, the morning
discharge peak, the afternoon); ``compress`` replays the day faster (1440: a day in a minute) and ``scale``
multiplies it. Step and spike shapes find the knee. Locust's ``LoadTestShape`` turns a rate into users.

Figures and their sources: ../shared/reference/settlement-rules.md §1 (tags as there: [SEED] the project's
seed documents, [S] a public page, [D] derived).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Share (%) of a weekday's settlements in each hour 00–23 (§1.4 "proposed day shape" [D]: admissions advised
# 08–10, discharges settled before 11 and 10–16 [S]); the peak hour 10–11 holds 14 % of the day.
HOURLY_SHARE: tuple[float, ...] = (0.27,) * 6 + (
    0.7, 3.0, 9.0, 13.0, 14.0, 10.0, 4.0, 5.0, 9.0, 10.0, 8.0, 5.0, 2.5, 1.8, 1.4, 1.0, 0.5, 0.5,
)  # fmt: skip
DAY = 86_400.0


@dataclass(frozen=True)
class Day:
    name: str
    settlements: float  # in the whole day
    inpatient: float  # share of whole inpatient episodes; the rest are outpatient or pharmacy visits
    source: str

    def rate(self, hour: float) -> float:
        """Settlements per second during ``hour`` (0–24) of the day."""
        return self.settlements * HOURLY_SHARE[int(hour) % 24] / sum(HOURLY_SHARE) / 3600


DAYS = {
    "day-2017": Day(
        "day-2017",
        1_115,
        1.0,
        "2017-09-25, the first day over a thousand cross-province settlements, all inpatient [SEED] (§1.1)",
    ),
    "day-2025": Day(
        "day-2025",
        786_100 * 7 / 6,  # a weekday: 70.75 M settlements in 2025 Q1 / 90 days [S], weekends at half [D]
        0.051,  # 5.1 % inpatient, the rest general or chronic outpatient and pharmacy [S] (§1.2)
        "2025 Q1 national average day as a weekday (§1.4): peak hour ≈ 36 settlements/s [D]",
    ),
}


@dataclass(frozen=True)
class Shape:
    """What to hold: ``rate(t)`` settlements per second at ``t`` seconds into a run of ``duration`` s."""

    name: str
    duration: float
    rate: Callable[[float], float]
    inpatient: float = 1.0  # share of the settlements that are whole inpatient episodes


def day(name: str, *, scale: float = 1.0, compress: float = 1.0, start_hour: float = 0.0) -> Shape:
    """A day of ``DAYS`` replayed ``compress`` times faster, ``scale`` times the real volume."""
    d = DAYS[name]
    if scale <= 0 or compress <= 0:
        raise ValueError(f"scale and compress must be positive (scale={scale}, compress={compress})")
    return Shape(
        name,
        DAY / compress,
        lambda t: scale * compress * d.rate(start_hour + t * compress / 3600),
        d.inpatient,
    )


def step(*, start: float, step: float, every: float, steps: int, scale: float = 1.0) -> Shape:
    """``start`` settlements/s, ``step`` more every ``every`` seconds, ``steps`` times: where is the knee?"""
    return Shape("step", every * (steps + 1), lambda t: scale * (start + step * min(int(t // every), steps)))


def flat(*, rate: float, duration: float) -> Shape:
    """``rate`` settlements/s for ``duration`` seconds: does the platform hold it (capacity runs)?"""
    return Shape("flat", duration, lambda t: rate)


def spike(*, base: float, peak: float, at: float, width: float, duration: float, scale: float = 1.0) -> Shape:
    """``base`` settlements/s with ``peak`` for ``width`` seconds from ``at``: does it recover?"""
    return Shape("spike", duration, lambda t: scale * (peak if at <= t < at + width else base))


def settlements(shape: Shape, dt: float = 1.0) -> float:
    """How many settlements the shape asks for over the whole run."""
    steps = int(shape.duration / dt)
    return sum(shape.rate((i + 0.5) * dt) for i in range(steps)) * dt


NAMES = (*DAYS, "flat", "step", "spike")


def named(
    name: str,
    *,
    scale: float = 1.0,
    compress: float = 1.0,
    duration: float | None = None,
    rate: float = 1.0,
) -> Shape:
    """The shape ``yidi load --shape NAME`` runs, cut at ``duration`` seconds when given."""
    if name in DAYS:
        found = day(name, scale=scale, compress=compress)
    elif name == "flat":
        found = flat(rate=scale * rate, duration=duration or 60)
    elif name == "step":
        found = step(start=1, step=2, every=10, steps=5, scale=scale)
    elif name == "spike":
        found = spike(base=2, peak=10, at=20, width=10, duration=60, scale=scale)
    else:
        raise ValueError(f"no shape {name!r}: one of {', '.join(NAMES)}")
    return Shape(found.name, min(duration or found.duration, found.duration), found.rate, found.inpatient)


def arrivals(shape: Shape, dt: float = 0.05) -> Iterator[float]:
    """When each settlement the shape asks for is due, in seconds into the run: the k-th when the shape's
    running count reaches k (the rate taken as constant within each ``dt``). Users start episodes at these
    times whatever the latency, so a slow platform falls behind instead of being asked for less."""
    count, k, t = 0.0, 1, 0.0
    while t < shape.duration:
        step = min(dt, shape.duration - t)
        rate = shape.rate(t + step / 2)
        while rate > 0 and count + rate * step >= k:
            yield t + (k - count) / rate
            k += 1
        count, t = count + rate * step, t + step
