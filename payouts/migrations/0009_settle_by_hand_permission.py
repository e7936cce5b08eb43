"""The `settle_by_hand` permission: settling a payout in flight by hand needs more than being staff."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0008_ledger_entries_append_only'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='payout',
            options={'ordering': ['-created_at', '-id'], 'permissions': [('settle_by_hand', 'Can mark a payout in flight paid or failed by hand')]},
        ),
    ]
