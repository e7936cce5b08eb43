"""Ledger entries are append-only in the database: a trigger (django-pgtrigger) refuses UPDATE and
DELETE."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0007_next_check_with_backoff'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='ledgerentry',
            trigger=pgtrigger.compiler.Trigger(name='ledger_entry_append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='9b1e244b59d103f04610f2a73d12a8d9bcb5f722', operation='UPDATE OR DELETE', pgid='pgtrigger_ledger_entry_append_only_4e340', table='payouts_ledgerentry', when='BEFORE')),
        ),
    ]
