import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from payouts.notifications.endpoints import endpoint_create
from payouts.selectors import webhook_endpoints_of
from payouts.services import api_key_create, operator_ensure, organization_create

DEMO_INN = "7707083893"
DEMO_NAME = "Demo LLC"
OPERATOR = "ops"


class Command(BaseCommand):
    help = (
        "Create the demo organisation (idempotent) and, in development, its webhook endpoint at the "
        "development inbox, and an operator `ops` for the admin and /ops/; print a new API key for it "
        "on the last line."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        organization, _ = organization_create(inn=DEMO_INN, name=DEMO_NAME)
        if settings.WEBHOOK_INBOX_ENABLED:
            endpoint = next(
                (
                    e
                    for e in webhook_endpoints_of(organization=organization)
                    if e.url == settings.WEBHOOK_INBOX_URL
                ),
                None,
            ) or endpoint_create(
                organization=organization,
                url=settings.WEBHOOK_INBOX_URL,
                enabled_events=["*"],
                description="The development inbox (/dev/webhook-inbox/)",
            )
            # The inbox plays the client: it verifies messages with the secret it was given.
            settings.WEBHOOK_INBOX_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
            settings.WEBHOOK_INBOX_SECRET_FILE.write_text(endpoint.secret + "\n")
            self.stdout.write(
                f"Webhook endpoint {endpoint.url} (its secret in {settings.WEBHOOK_INBOX_SECRET_FILE})."
            )
        if settings.ENVIRONMENT == "development":
            self._operator()
        key = api_key_create(organization=organization, name="demo")
        self.stdout.write(f"Demo organisation: {organization}. Its new API key (also in var/demo-api-key):")
        self.stdout.write(key)

    def _operator(self) -> None:
        """The development operator `ops`, its password kept (git-ignored) in OPS_PASSWORD_FILE."""
        path = settings.OPS_PASSWORD_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(12) + "\n")
        operator_ensure(username=OPERATOR, password=path.read_text().strip())
        self.stdout.write(f"Operator {OPERATOR!r} for /admin/ and /ops/ (its password in {path}).")
