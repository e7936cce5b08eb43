"""What the operators' view keeps of its own: the periodic ledger check's results, and snapshots of
the counters that the overview page turns into rates (`payouts.observability`)."""

from django.db import models


class LedgerCheckRun(models.Model):
    """One run of `ledger_check` by the periodic task: whether the ledger held, and what broke."""

    checked_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    violation_count = models.PositiveIntegerField()
    violations = models.JSONField(default=list)  # the first ones found (`ledger.VIOLATIONS_KEPT`)
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"ledger check at {self.checked_at:%Y-%m-%d %H:%M:%S}: {'ok' if self.ok else 'VIOLATIONS'}"


class MetricsSnapshot(models.Model):
    """The service's counters as they stood at TAKEN_AT (summed over its processes), taken every
    minute: two snapshots make a rate, the overview's charts are made of them. `counters` maps a
    series (`payouts_transitions_total{to_status="paid"}`, a histogram's bucket) to its value."""

    taken_at = models.DateTimeField(db_index=True)
    counters = models.JSONField()

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"metrics at {self.taken_at:%Y-%m-%d %H:%M:%S}"
