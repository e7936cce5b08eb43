"""Money a payer sends to the service's account at the simulated bank, announced by webhook."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from fake_bank.currencies import SUPPORTED_CURRENCIES
from fake_bank.errors import InvalidRequestError
from fake_bank.models import IncomingTransfer, WebhookType
from fake_bank.representations import transfer_event_json
from fake_bank.webhooks import webhook_create


@transaction.atomic
def incoming_transfer_create(
    *, payer_inn: str, amount: int, currency: str, document_number: str, document_date: date
) -> IncomingTransfer:
    """Record money a payer sent to the service's account and announce it with a signed
    ``transfer.incoming`` webhook, delivered after commit (one operation, one ``operation_id``).

    Not idempotent by itself: the API runs it under the request's idempotency key when it has one.
    Raises ``InvalidRequestError`` for a non-positive amount or an unsupported currency.
    """
    if amount <= 0:
        raise InvalidRequestError("amount must be a positive integer of minor units")
    if currency not in SUPPORTED_CURRENCIES:
        raise InvalidRequestError(f"currency: the bank does not hold {currency!r}")
    now = timezone.now()
    transfer = IncomingTransfer(
        payer_inn=payer_inn,
        amount=amount,
        currency=currency,
        document_number=document_number,
        document_date=document_date,
        created_at=now,
    )
    transfer.webhook = webhook_create(
        event_type=WebhookType.TRANSFER_INCOMING,
        data=transfer_event_json(transfer),
        occurred_at=now,
        payout=None,
    )
    transfer.save(force_insert=True)
    return transfer
