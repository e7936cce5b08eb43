"""Have the simulated bank send an incoming transfer: a signed `transfer.incoming` webhook, delivered
by the bank's worker like any other (`make run` funds the demo organisation this way)."""

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from fake_bank.incoming_transfers import incoming_transfer_create
from fake_bank.models import IncomingTransfer


class Command(BaseCommand):
    help = "Send an incoming transfer to an INN through the simulated bank's webhook."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inn", required=True)
        parser.add_argument("--amount", required=True, help='Major units, e.g. "100000.00".')
        parser.add_argument("--currency", default="RUB")
        parser.add_argument("--document-number", required=True)
        parser.add_argument(
            "--once", action="store_true", help="Do nothing when this INN already got this document number."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        inn, number = options["inn"], options["document_number"]
        if (
            options["once"]
            and IncomingTransfer.objects.filter(payer_inn=inn, document_number=number).exists()
        ):
            self.stdout.write(f"Transfer {number} to {inn} was already sent; nothing to do.")
            return
        minor = int(Decimal(options["amount"]) * 100)
        transfer = incoming_transfer_create(
            payer_inn=inn,
            amount=minor,
            currency=options["currency"],
            document_number=number,
            document_date=timezone.localdate(),
        )
        self.stdout.write(
            f"The bank sends {options['amount']} {options['currency']} to {inn} "
            f"(operation {transfer.webhook.operation_id}); the bank worker delivers the webhook."
        )
