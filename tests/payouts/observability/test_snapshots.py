"""The overview's arithmetic, as Prometheus does it: increases across counter resets, increases per
time bin, a histogram's quantiles by interpolation; and snapshots taken and pruned."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payouts.models import MetricsSnapshot
from payouts.observability.snapshots import (
    BANK_LATENCY,
    Point,
    binned,
    increase,
    metrics_snapshot_take,
    quantile,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(minutes: float, **counters: float) -> Point:
    return Point(T0 + timedelta(minutes=minutes), {k.replace("__", ":"): v for k, v in counters.items()})


def test_an_increase_runs_from_the_last_point_at_or_before_its_start_and_survives_a_reset() -> None:
    points = [at(0, a=5), at(1, a=7), at(2, a=10), at(3, a=2), at(4, a=6)]  # restarted before minute 3

    assert increase(points, T0 + timedelta(minutes=1)) == {"a": 3 + 2 + 4}
    assert increase(points, T0 + timedelta(minutes=1, seconds=30)) == {"a": 3 + 2 + 4}
    assert increase(points, T0 - timedelta(hours=1)) == {"a": 2 + 3 + 2 + 4}  # from the first point


def test_increases_fall_in_the_bin_of_their_later_point() -> None:
    points = [at(0, x=0), at(0.5, x=1), at(1.5, x=4), at(2.2, x=4), at(2.9, x=9)]

    bins = binned(points, ["x"], start=T0, width=timedelta(minutes=1), bins=3)

    assert bins == [{"x": 1}, {"x": 3}, {"x": 5}]


def test_points_outside_the_bins_are_left_out() -> None:
    points = [at(-2, x=0), at(-1, x=10), at(0.5, x=11), at(5, x=20)]

    assert binned(points, ["x"], start=T0, width=timedelta(minutes=1), bins=2) == [{"x": 1}, {"x": 0}]


def latency(**buckets: float) -> dict[str, float]:
    return {BANK_LATENCY + le.replace("_", ".").replace("inf", "+Inf"): n for le, n in buckets.items()}


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.25, 0.05), (0.5, 0.075), (0.8, 0.15), (0.9, 0.25)],
)
def test_quantiles_interpolate_within_their_bucket(q: float, expected: float) -> None:
    # 20 observations: 5 up to 0.05 s, 5 more up to 0.1 s, 8 more up to 0.25 s, 2 beyond
    counters = latency(**{"0_05": 5, "0_1": 15, "0_25": 18, "inf": 20})  # cumulative

    result = quantile(q, counters)

    assert result is not None and result == pytest.approx(expected)


def test_a_quantile_past_the_last_finite_bucket_is_that_bucket_and_none_without_data() -> None:
    assert quantile(0.99, latency(**{"0_1": 1, "inf": 10})) == 0.1
    assert quantile(0.5, latency(**{"0_1": 0, "inf": 0})) is None
    assert quantile(0.5, {}) is None


@pytest.mark.django_db
def test_a_snapshot_holds_the_charted_counters_and_old_ones_are_pruned(settings: Any) -> None:
    settings.METRICS_SNAPSHOT_RETENTION_HOURS = 26
    now = datetime.now(UTC)
    old = MetricsSnapshot.objects.create(taken_at=now - timedelta(hours=27), counters={})
    kept = MetricsSnapshot.objects.create(taken_at=now - timedelta(hours=25), counters={})

    snapshot = metrics_snapshot_take(now)

    assert set(MetricsSnapshot.objects.values_list("pk", flat=True)) == {kept.pk, snapshot.pk}
    assert not MetricsSnapshot.objects.filter(pk=old.pk).exists()
    keys = set(snapshot.counters)
    assert {
        "final:paid",
        "final:failed",
        "final:canceled",
        "created",
        "bank_calls:ok",
        "bank_calls:error",
    } <= keys
    assert f"{BANK_LATENCY}+Inf" in keys
    assert "bank_webhooks:duplicate" in keys and "client_webhooks:delivered" in keys
