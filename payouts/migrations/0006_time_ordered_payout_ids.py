"""New payouts get version 7 (time-ordered) UUIDs; existing ids stay as they are. No SQL: the
default is applied in Python."""

import uuid6
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0005_list_indexes_per_organization'),
    ]

    operations = [
        migrations.AlterField(
            model_name='payout',
            name='id',
            field=models.UUIDField(default=uuid6.uuid7, editable=False, primary_key=True, serialize=False),
        ),
    ]
