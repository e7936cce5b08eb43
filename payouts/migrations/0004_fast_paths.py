"""Fast paths: list indexes per filter, an organisation column on ledger entries for the balance
history, and settlement accounts whose totals live in their entries (no shared hot row)."""

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
        migrations.RunSQL(ZERO_SETTLEMENT_TOTALS, migrations.RunSQL.noop),
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
