from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payouts.inn import normalize_inn
from payouts.models import Organization
from payouts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for the organisation with this INN; the key is printed once, on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("inn")
        parser.add_argument("--name", default="default", help="A label for the key.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(inn=normalize_inn(options["inn"]))
        except (ValueError, Organization.DoesNotExist) as exc:
            raise CommandError(f"No organisation with INN {options['inn']!r}.") from exc
        key = api_key_create(organization=organization, name=options["name"])
        self.stdout.write(f"API key for {organization} (shown once, store it now):")
        self.stdout.write(key)
