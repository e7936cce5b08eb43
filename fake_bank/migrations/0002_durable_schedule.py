"""The simulator keeps what it must do next in its tables: each accepted payout's execution time and
each queued delivery attempt, so that its sweep runs what a lost task left behind. Payouts already
accepted and not executed are due at once."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fake_bank', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='bankpayout',
            name='execute_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE fake_bank_bankpayout SET execute_at = created_at WHERE status = 'processing'",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.CreateModel(
            name='WebhookDeliveryDue',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('delivery', models.PositiveIntegerField()),
                ('attempt', models.PositiveIntegerField()),
                ('tampered', models.BooleanField(default=False)),
                ('due_at', models.DateTimeField()),
                ('webhook', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='due_attempts', to='fake_bank.webhook')),
            ],
            options={
                'indexes': [models.Index(fields=['due_at'], name='fake_bank_due_at_idx')],
                'constraints': [models.UniqueConstraint(fields=('webhook', 'delivery', 'attempt'), name='fake_bank_due_once')],
            },
        ),
    ]
