"""Client lists are served only by the per-organisation indexes: the index over every organisation's
payouts is dropped (the planner took it for an organisation owning most rows and then walked every
other organisation's newer payouts), and so is the foreign key's own index on the organisation (the
unique key and the list indexes all start with it). Two fewer indexes for every create to write."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0004_fast_paths'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='payout',
            name='payout_list_idx',
        ),
        migrations.AlterField(
            model_name='payout',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='payouts', to='payouts.organization'),
        ),
    ]
