from django.apps import AppConfig


class WebhookInboxConfig(AppConfig):
    name = "webhook_inbox"
    verbose_name = "Development webhook inbox"
    default_auto_field = "django.db.models.BigAutoField"
