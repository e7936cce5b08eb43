"""Each payout gets its own next-check time (`next_check_at`) and a count of the reconciler's
look-ups (`checks`, the backoff's step), claimed on partial indexes, instead of one window on
`checked_at` for everybody. Existing `new` and in-flight payouts are due at once; final ones have no
next check. The (status, updated_at) index only served the old claim."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0006_time_ordered_payout_ids'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='payout',
            name='payout_status_updated_idx',
        ),
        migrations.RemoveField(
            model_name='payout',
            name='checked_at',
        ),
        migrations.AddField(
            model_name='payout',
            name='checks',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='payout',
            name='next_check_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE payouts_payout SET next_check_at = now() WHERE status IN ('new', 'processing', 'submitted')",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name='payout',
            name='next_check_at',
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.AddIndex(
            model_name='payout',
            index=models.Index(condition=models.Q(('status', 'new')), fields=['next_check_at'], name='payout_new_due_idx'),
        ),
        migrations.AddIndex(
            model_name='payout',
            index=models.Index(condition=models.Q(('status__in', ['processing', 'submitted'])), fields=['next_check_at'], name='payout_in_flight_due_idx'),
        ),
        migrations.AddIndex(
            model_name='payout',
            index=models.Index(condition=models.Q(('status__in', ['processing', 'submitted'])), fields=['processing_at'], name='payout_in_flight_age_idx'),
        ),
    ]
