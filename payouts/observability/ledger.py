"""The periodic ledger check: `ledger_check` run by beat, its result kept for `/metrics`, the
overview page and the alert `LedgerCheckFailing`."""

from datetime import timedelta
from time import perf_counter

import structlog
from django.utils import timezone

from payouts.ledger.check import ledger_check
from payouts.metrics import LEDGER_CHECKS
from payouts.models import LedgerCheckRun

logger = structlog.get_logger(__name__)

KEEP_RUNS_DAYS = 30
VIOLATIONS_KEPT = 50


def ledger_check_record() -> LedgerCheckRun:
    """Run the ledger check and record its result (violations logged as errors); runs older than
    `KEEP_RUNS_DAYS` are deleted."""
    started_at, started = timezone.now(), perf_counter()
    report = ledger_check()
    run = LedgerCheckRun.objects.create(
        checked_at=started_at,
        ok=not report.violations,
        violation_count=len(report.violations),
        violations=report.violations[:VIOLATIONS_KEPT],
        duration_ms=round((perf_counter() - started) * 1000),
    )
    LEDGER_CHECKS.labels("ok" if run.ok else "violations").inc()
    if run.ok:
        logger.info("ledger_check.ok", duration_ms=run.duration_ms)
    else:
        logger.error("ledger_check.violations", count=len(report.violations), first=report.violations[:5])
    LedgerCheckRun.objects.filter(checked_at__lt=started_at - timedelta(days=KEEP_RUNS_DAYS)).delete()
    return run
