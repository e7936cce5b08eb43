from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payouts.inn import normalize_inn
from payouts.services import organization_create


class Command(BaseCommand):
    help = "Create an organisation by INN (idempotent: an existing one is left as it is)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("inn")
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            inn = normalize_inn(options["inn"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        organization, created = organization_create(inn=inn, name=options["name"])
        verb = "Created" if created else "Already exists:"
        self.stdout.write(f"{verb} {organization}")
