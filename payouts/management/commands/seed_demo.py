from typing import Any

from django.core.management.base import BaseCommand

from payouts.services import api_key_create, organization_create

DEMO_INN = "7707083893"
DEMO_NAME = "Demo LLC"


class Command(BaseCommand):
    help = "Create the demo organisation (idempotent) and print a new API key for it on the last line."

    def handle(self, *args: Any, **options: Any) -> None:
        organization, _ = organization_create(inn=DEMO_INN, name=DEMO_NAME)
        key = api_key_create(organization=organization, name="demo")
        self.stdout.write(f"Demo organisation: {organization}. Its new API key (also in var/demo-api-key):")
        self.stdout.write(key)
