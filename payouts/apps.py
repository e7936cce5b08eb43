from django.apps import AppConfig
from django.conf import settings

# Importing the module registers the system checks; it needs no models, so it may load with the app.
from payouts import checks, metrics  # noqa: F401


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Modules with models import once the registry is ready, here.
        from payouts.models import Actor  # noqa: PLC0415
        from payouts.transitions import ALLOWED_TRANSITIONS  # noqa: PLC0415

        metrics.series_start(
            currencies=settings.PAYOUT_CURRENCIES,
            transitions=[(str(a), str(b)) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets],
            actors=[str(actor) for actor in Actor],
        )
