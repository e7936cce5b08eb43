from django.apps import AppConfig

# Importing the module registers the system checks; it needs no models, so it may load with the app.
from payouts import checks  # noqa: F401


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"
    default_auto_field = "django.db.models.BigAutoField"
