"""Fast paths: list indexes per filter, an organisation column on ledger entries for the balance
history, and settlement accounts whose totals live in their entries (no shared hot row).

Deploy it with the code of the same commit and the writers stopped: the code before it writes
settlement totals (which the new constraint refuses) and entries without an organisation, the code
after it needs the column. It runs in one transaction and builds the indexes without CONCURRENTLY.
Reversible: going back recomputes the settlement accounts' totals from their entries."""

import django.db.models.deletion
from django.db import migrations, models

# Every entry has exactly one organisation account on one side.
BACKFILL_ENTRY_ORGANIZATION = """
SET CONSTRAINTS ALL IMMEDIATE;
UPDATE payouts_ledgerentry entry SET organization_id = account.organization_id
FROM payouts_ledgeraccount account
WHERE account.kind = 'organization'
  AND account.id IN (entry.debit_account_id, entry.credit_account_id)
"""
# The settlement accounts' totals are from now on the sums of their entries.
ZERO_SETTLEMENT_TOTALS = """
UPDATE payouts_ledgeraccount
SET credits_posted = 0, debits_posted = 0, credits_pending = 0, debits_pending = 0
WHERE kind <> 'organization'
"""
# Back to 0003, whose code keeps running totals on the settlement accounts too: recompute them from
# the entries by the rules `ledger_check` verifies.
RESTORE_SETTLEMENT_TOTALS = """
WITH sides AS (
    SELECT credit_account_id AS account_id, kind, amount AS credit, 0 AS debit FROM payouts_ledgerentry
    UNION ALL
    SELECT debit_account_id, kind, 0, amount FROM payouts_ledgerentry
), totals AS (
    SELECT account_id,
           COALESCE(sum(credit) FILTER (WHERE kind IN ('posted', 'post_pending')), 0) AS credits_posted,
           COALESCE(sum(debit) FILTER (WHERE kind IN ('posted', 'post_pending')), 0) AS debits_posted,
           COALESCE(sum(credit) FILTER (WHERE kind = 'pending'), 0)
             - COALESCE(sum(credit) FILTER (WHERE kind IN ('post_pending', 'void_pending')), 0)
             AS credits_pending,
           COALESCE(sum(debit) FILTER (WHERE kind = 'pending'), 0)
             - COALESCE(sum(debit) FILTER (WHERE kind IN ('post_pending', 'void_pending')), 0)
             AS debits_pending
    FROM sides GROUP BY account_id
)
UPDATE payouts_ledgeraccount account
SET credits_posted = totals.credits_posted, debits_posted = totals.debits_posted,
    credits_pending = totals.credits_pending, debits_pending = totals.debits_pending
FROM totals
WHERE account.id = totals.account_id AND account.kind <> 'organization'
"""


class Migration(migrations.Migration):
    dependencies = [("payouts", "0003_ledger")]

    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="organization",
            field=models.ForeignKey(
                null=True,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="payouts.organization",
            ),
        ),
        migrations.RunSQL(BACKFILL_ENTRY_ORGANIZATION, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="ledgerentry",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="payouts.organization",
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                fields=["organization", "-created_at", "-id"], name="ledger_entry_org_history_idx"
            ),
        ),
        migrations.RunSQL(ZERO_SETTLEMENT_TOTALS, RESTORE_SETTLEMENT_TOTALS),
        migrations.AddConstraint(
            model_name="ledgeraccount",
            constraint=models.CheckConstraint(
                condition=models.Q(kind="organization")
                | models.Q(credits_posted=0, debits_posted=0, credits_pending=0, debits_pending=0),
                name="ledger_settlement_totals_in_entries",
            ),
        ),
        migrations.RemoveIndex(model_name="payout", name="payout_org_created_idx"),
        migrations.AlterField(
            model_name="payout", name="created_at", field=models.DateTimeField(auto_now_add=True)
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(
                condition=models.Q(hidden_at__isnull=True),
                fields=["organization", "-created_at", "-id"],
                name="payout_org_list_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(
                condition=models.Q(hidden_at__isnull=True),
                fields=["organization", "status", "-created_at", "-id"],
                name="payout_org_status_list_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(
                condition=models.Q(hidden_at__isnull=True),
                fields=["organization", "currency", "-created_at", "-id"],
                name="payout_org_currency_list_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(
                condition=models.Q(hidden_at__isnull=True),
                fields=["organization", "amount"],
                name="payout_org_amount_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(
                condition=models.Q(hidden_at__isnull=True), fields=["-created_at", "-id"], name="payout_list_idx"
            ),
        ),
    ]
