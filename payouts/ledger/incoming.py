"""Incoming transfers: the bank tells us money arrived for a payer INN; we credit that organisation,
or park the transfer until an operator assigns it."""

from datetime import date
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from payouts.errors import DomainError
from payouts.ledger import entries
from payouts.models import IncomingTransfer, IncomingTransferStatus, Organization
from payouts.notifications import events

logger = structlog.get_logger(__name__)


class IncomingTransferAlreadyCredited(DomainError):
    code = "incoming_transfer_already_credited"
    http_status = 409


@transaction.atomic
def incoming_transfer_receive(
    *,
    operation_id: str,
    payer_inn: str,
    amount: Decimal,
    currency: str,
    document_number: str,
    document_date: date,
) -> tuple[IncomingTransfer, bool]:
    """Record an incoming transfer and credit the organisation with the payer's INN; with no such
    organisation, park it as unmatched (nothing credited, nothing lost). Once per bank operation,
    whoever brings it (the webhook, or the sweep of the bank's list): an operation already recorded
    is returned as it is. Returns (transfer, created)."""
    existing = IncomingTransfer.objects.filter(operation_id=operation_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return _record_and_credit(
                operation_id=operation_id,
                payer_inn=payer_inn,
                amount=amount,
                currency=currency,
                document_number=document_number,
                document_date=document_date,
            ), True
    except IntegrityError:
        # The same operation, recorded meanwhile by the other route: its unique operation id.
        existing = IncomingTransfer.objects.filter(operation_id=operation_id).first()
        if existing is None:
            raise
        return existing, False


def _record_and_credit(
    *,
    operation_id: str,
    payer_inn: str,
    amount: Decimal,
    currency: str,
    document_number: str,
    document_date: date,
) -> IncomingTransfer:
    organization = Organization.objects.filter(inn=payer_inn).first()
    incoming = IncomingTransfer.objects.create(
        operation_id=operation_id,
        payer_inn=payer_inn,
        amount=amount,
        currency=currency,
        document_number=document_number,
        document_date=document_date,
        organization=organization,
        status=IncomingTransferStatus.CREDITED if organization else IncomingTransferStatus.UNMATCHED,
        credited_at=timezone.now() if organization else None,
    )
    if organization is None:
        logger.warning(
            "incoming_transfer.unmatched", payer_inn=payer_inn, amount=str(amount), currency=currency
        )
        return incoming
    _credit(incoming, organization)
    return incoming


def _credit(incoming: IncomingTransfer, organization: Organization) -> None:
    entries.incoming_credit(incoming=incoming, organization=organization)
    events.credit_event_record(incoming=incoming)


@transaction.atomic
def incoming_transfer_assign(*, incoming_transfer_id: int, organization: Organization) -> IncomingTransfer:
    """An operator assigns a parked transfer to an organisation, which is credited exactly once:
    the row is locked, and a transfer already credited raises `IncomingTransferAlreadyCredited`."""
    incoming = IncomingTransfer.objects.select_for_update().get(pk=incoming_transfer_id)
    if incoming.status == IncomingTransferStatus.CREDITED:
        raise IncomingTransferAlreadyCredited(f"Incoming transfer {incoming.pk} is already credited.")
    incoming.organization = organization
    incoming.status = IncomingTransferStatus.CREDITED
    incoming.credited_at = timezone.now()
    incoming.save(update_fields=["organization", "status", "credited_at"])
    _credit(incoming, organization)
    logger.info("incoming_transfer.assigned", incoming_transfer_id=incoming.pk, organization=organization.inn)
    return incoming
