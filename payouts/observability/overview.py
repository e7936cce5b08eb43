"""The operators' overview page's figures (`payouts.ops`): the last hour and day from the counters'
snapshots (`snapshots`), the state now (`state`), failures by code from the payouts themselves."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from payouts.models import LedgerCheckRun, Payout, PayoutStatus
from payouts.observability.snapshots import (
    FINAL_STATUSES,
    Point,
    binned,
    increase,
    points_since,
    quantile,
)
from payouts.observability.state import PayoutState, QueueState, payout_state, queue_states

CHART_WIDTH, CHART_HEIGHT = 720, 140
FINAL_KEYS = [f"final:{status}" for status in FINAL_STATUSES]


@dataclass(frozen=True)
class Segment:
    status: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Column:
    x: float
    starts: datetime
    segments: list[Segment]


@dataclass(frozen=True)
class Chart:
    """Stacked columns of payouts reaching each final status, per bin, scaled to the tallest."""

    title: str
    columns: list[Column]
    bar_width: float
    tallest_per_minute: float
    start: datetime
    end: datetime
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def final_status_chart(
    points: list[Point], *, title: str, now: datetime, span: timedelta, bins: int
) -> Chart:
    width = span / bins
    start = now - span
    counts = binned(points, FINAL_KEYS, start=start, width=width, bins=bins)
    tallest = max((sum(column.values()) for column in counts), default=0.0) or 1.0
    bar_width = CHART_WIDTH / bins
    columns = []
    for index, column in enumerate(counts):
        y = float(CHART_HEIGHT)
        segments = []
        for status, key in zip(FINAL_STATUSES, FINAL_KEYS, strict=True):
            height = column[key] / tallest * CHART_HEIGHT
            y -= height
            segments.append(Segment(str(status), round(column[key]), round(y, 1), round(height, 1)))
        columns.append(Column(round(index * bar_width, 1), start + index * width, segments))
    return Chart(
        title=title,
        columns=columns,
        bar_width=round(bar_width * 0.8, 1),
        tallest_per_minute=round(tallest / (width.total_seconds() / 60), 1),
        start=start,
        end=now,
    )


@dataclass(frozen=True)
class Window:
    """Totals over the last hour or day (or since the first snapshot, when younger)."""

    title: str
    since: datetime
    final: dict[str, int]
    failure_codes: list[tuple[str, int]]
    bank_p50_ms: float | None
    bank_p95_ms: float | None
    bank_calls: dict[str, int]
    bank_webhooks: dict[str, int]
    client_webhooks: dict[str, int]


def _group(counters: dict[str, float], prefix: str) -> dict[str, int]:
    return {
        key[len(prefix) :]: round(value) for key, value in sorted(counters.items()) if key.startswith(prefix)
    }


def window(points: list[Point], *, title: str, now: datetime, span: timedelta) -> Window:
    since = max(now - span, points[0].at)
    counters = increase(points, now - span)
    p50, p95 = quantile(0.5, counters), quantile(0.95, counters)
    codes = (
        Payout.objects.filter(status=PayoutStatus.FAILED, failed_at__gte=now - span)
        .values_list("failure_code")
        .annotate(n=Count("id"))
        .order_by("-n", "failure_code")[:8]
    )
    return Window(
        title=title,
        since=since,
        final={status: round(counters.get(f"final:{status}", 0.0)) for status in FINAL_STATUSES},
        failure_codes=list(codes),
        bank_p50_ms=None if p50 is None else round(p50 * 1000, 1),
        bank_p95_ms=None if p95 is None else round(p95 * 1000, 1),
        bank_calls=_group(counters, "bank_calls:"),
        bank_webhooks=_group(counters, "bank_webhooks:"),
        client_webhooks=_group(counters, "client_webhooks:"),
    )


@dataclass(frozen=True)
class Overview:
    now: datetime
    payouts: PayoutState
    queues: list[QueueState] | None  # None: the broker did not answer
    ledger: LedgerCheckRun | None
    charts: list[Chart]
    windows: list[Window]


def ops_overview(now: datetime | None = None) -> Overview:
    now = now or timezone.now()
    hour, day = timedelta(hours=1), timedelta(days=1)
    points = points_since(now - day, now)
    return Overview(
        now=now,
        payouts=payout_state(now),
        queues=queue_states(),
        ledger=LedgerCheckRun.objects.order_by("-checked_at").first(),
        charts=[
            final_status_chart(points, title="Last hour, per minute", now=now, span=hour, bins=60),
            final_status_chart(points, title="Last day, per 20 minutes", now=now, span=day, bins=72),
        ],
        windows=[
            window(points, title="Last hour", now=now, span=hour),
            window(points, title="Last day", now=now, span=day),
        ],
    )
