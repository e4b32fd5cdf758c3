"""Load shapes are pure functions of time: the day holds its day's settlements, its peak where hospitals
have theirs, and compress and scale do what they say."""

from __future__ import annotations

import pytest

from yidi.load import shapes


def test_the_2017_day_holds_its_1115_settlements_with_the_morning_peak() -> None:
    day = shapes.day("day-2017")
    assert day.duration == 86_400 and day.inpatient == 1.0
    assert shapes.settlements(day, dt=60) == pytest.approx(1_115, rel=1e-6)
    peak_hour = max(range(24), key=lambda h: day.rate(h * 3600 + 1))
    assert peak_hour == 10
    assert day.rate(10.5 * 3600) * 3600 == pytest.approx(1_115 * 0.14, rel=0.01)  # ≈156 in the peak hour


def test_compress_replays_the_day_faster_with_the_same_settlements() -> None:
    minute = shapes.day("day-2017", compress=1440)
    assert minute.duration == 60
    assert shapes.settlements(minute, dt=0.05) == pytest.approx(1_115, rel=1e-6)
    assert minute.rate(10.5 * 60 / 24) == pytest.approx(1440 * shapes.day("day-2017").rate(10.5 * 3600))


def test_scale_multiplies_and_the_2025_peak_hour_is_about_36_per_second() -> None:
    today = shapes.day("day-2025")
    assert today.rate(10.5 * 3600) == pytest.approx(36, rel=0.03)
    assert today.inpatient == pytest.approx(0.051)
    double = shapes.day("day-2025", scale=2)
    assert double.rate(10.5 * 3600) == pytest.approx(2 * today.rate(10.5 * 3600))
    with pytest.raises(ValueError, match="positive"):
        shapes.day("day-2017", compress=0)


def test_step_and_spike() -> None:
    s = shapes.step(start=5, step=5, every=30, steps=3)
    assert [s.rate(t) for t in (0, 29, 30, 65, 95, 119)] == [5, 5, 10, 15, 20, 20]
    assert s.duration == 120
    k = shapes.spike(base=2, peak=20, at=10, width=5, duration=30)
    assert [k.rate(t) for t in (9.9, 10, 14.9, 15)] == [2, 20, 20, 2]


def test_arrivals_are_when_the_running_count_reaches_each_settlement() -> None:
    minute = shapes.day("day-2017", compress=1440)
    due = list(shapes.arrivals(minute))
    assert len(due) == pytest.approx(1_115, abs=2)
    assert due == sorted(due) and due[0] > 0 and due[-1] <= minute.duration
    peak = [t for t in due if 25 <= t < 27.5]  # 10:00–11:00 of the compressed day: 14 % of it
    assert len(peak) == pytest.approx(1_115 * 0.14, abs=2)
    assert list(shapes.arrivals(shapes.flat(rate=4, duration=1))) == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_a_shape_by_name_is_cut_at_the_duration_asked() -> None:
    assert shapes.named("day-2017", compress=1440, duration=30).duration == 30
    assert shapes.named("day-2017", compress=1440, duration=600).duration == 60
    flat = shapes.named("flat", rate=5, scale=2, duration=10)
    assert (flat.duration, flat.rate(3)) == (10, 10)
    with pytest.raises(ValueError, match="no shape 'night'"):
        shapes.named("night")
