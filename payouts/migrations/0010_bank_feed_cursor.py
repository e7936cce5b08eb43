"""Where we left off reading one of the bank's lists (the incoming transfers first)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0009_settle_by_hand_permission'),
    ]

    operations = [
        migrations.CreateModel(
            name='BankFeedCursor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64, unique=True)),
                ('cursor', models.CharField(blank=True, default='', max_length=200)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
