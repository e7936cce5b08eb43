"""The counters the overview page charts, summed over the host's processes, and what two or more
readings of them make: increases per time bin, increases over a window, a histogram's quantiles.
The arithmetic is Prometheus's (`increase`, `histogram_quantile`), on snapshots taken every minute,
so that the page needs no Prometheus."""

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from django.conf import settings
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Sample

from payouts.models import MetricsSnapshot, PayoutStatus

FINAL_STATUSES = (PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.CANCELED)
BANK_LATENCY = "bank_latency:"  # a key per bucket of `payouts_bank_call_duration_seconds`, all operations


def metrics_dir() -> str | None:
    """The directory every process of this host writes its samples to; None when metrics are off."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return directory if settings.METRICS_ENABLED and directory else None


def collected() -> Iterable[Metric]:
    """The counters and histograms of every process of this host (this process's alone when metrics
    are off)."""
    directory = metrics_dir()
    if directory:
        collector = MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]
        families: Iterable[Metric] = collector.collect()  # type: ignore[no-untyped-call]
        return families
    return REGISTRY.collect()


# Counters charted by one label: their snapshot keys' prefix and that label.
_BY_LABEL = {
    "payouts_bank_call_duration_seconds_bucket": (BANK_LATENCY, "le"),
    "payouts_bank_calls_total": ("bank_calls:", "outcome"),
    "payouts_bank_webhooks_total": ("bank_webhooks:", "outcome"),
    "payouts_client_webhook_deliveries_total": ("client_webhooks:", "outcome"),
}


def _key(sample: Sample) -> str | None:
    if sample.name == "payouts_transitions_total":
        status = sample.labels["to_status"]
        return f"final:{status}" if status in FINAL_STATUSES else None
    if sample.name == "payouts_created_total":
        return "created"
    by_label = _BY_LABEL.get(sample.name)
    return None if by_label is None else by_label[0] + sample.labels[by_label[1]]


def counters_now() -> dict[str, float]:
    """The charted counters as they stand, each summed over its other labels."""
    counters: dict[str, float] = defaultdict(float)
    for family in collected():
        for sample in family.samples:
            key = _key(sample)
            if key is not None:
                counters[key] += sample.value
    return dict(counters)


def metrics_snapshot_take(now: datetime | None = None) -> MetricsSnapshot:
    """Record the counters now; forget snapshots older than `METRICS_SNAPSHOT_RETENTION_HOURS`."""
    now = now or timezone.now()
    snapshot = MetricsSnapshot.objects.create(taken_at=now, counters=counters_now())
    cutoff = now - timedelta(hours=settings.METRICS_SNAPSHOT_RETENTION_HOURS)
    MetricsSnapshot.objects.filter(taken_at__lt=cutoff).delete()
    return snapshot


@dataclass(frozen=True)
class Point:
    at: datetime
    counters: dict[str, float]


def points_since(since: datetime, now: datetime) -> list[Point]:
    """The snapshots from the last one at or before SINCE on, and the counters now."""
    first = MetricsSnapshot.objects.filter(taken_at__lte=since).order_by("-taken_at").first()
    later = MetricsSnapshot.objects.filter(taken_at__gt=since, taken_at__lt=now).order_by("taken_at")
    snapshots = ([first] if first else []) + list(later)
    return [Point(s.taken_at, s.counters) for s in snapshots] + [Point(now, counters_now())]


def _increase(before: dict[str, float], after: dict[str, float], key: str) -> float:
    earlier, later = before.get(key, 0.0), after.get(key, 0.0)
    return later if later < earlier else later - earlier  # lower: the processes restarted (a reset)


def increase(points: Sequence[Point], since: datetime) -> dict[str, float]:
    """Each counter's increase from the last point at or before SINCE (the first point when none
    is that old) to the last point."""
    start = max((i for i, p in enumerate(points) if p.at <= since), default=0)
    total: dict[str, float] = defaultdict(float)
    for before, after in pairwise(points[start:]):
        for key in before.counters.keys() | after.counters.keys():
            total[key] += _increase(before.counters, after.counters, key)
    return dict(total)


def binned(
    points: Sequence[Point], keys: Sequence[str], *, start: datetime, width: timedelta, bins: int
) -> list[dict[str, float]]:
    """KEYS' increases in BINS consecutive bins of WIDTH after START (each bin holds its end, not
    its start: the last one ends at START + BINS x WIDTH, now), each increase between two points
    counted in the bin of the later one."""
    out = [dict.fromkeys(keys, 0.0) for _ in range(bins)]
    for before, after in pairwise(points):
        index = math.ceil((after.at - start) / width) - 1
        if 0 <= index < bins:
            for key in keys:
                out[index][key] += _increase(before.counters, after.counters, key)
    return out


def quantile(q: float, counters: dict[str, float], prefix: str = BANK_LATENCY) -> float | None:
    """The Q-quantile of a histogram whose cumulative buckets are COUNTERS' keys PREFIX + `le`, by
    linear interpolation inside the bucket (Prometheus's `histogram_quantile`); None with no
    observation."""
    buckets = sorted(
        (float(key[len(prefix) :]), value) for key, value in counters.items() if key.startswith(prefix)
    )
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # past the last finite bucket: its bound is all that is known
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
