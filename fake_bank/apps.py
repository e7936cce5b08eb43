from django.apps import AppConfig


class FakeBankConfig(AppConfig):
    name = "fake_bank"
    verbose_name = "Simulated bank"
    default_auto_field = "django.db.models.BigAutoField"
