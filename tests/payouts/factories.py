import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from payouts.ledger import entries
from payouts.ledger.incoming import incoming_transfer_receive
from payouts.models import IncomingTransfer, Organization, Payout, PayoutStatus
from payouts.services import api_key_create

IN_FLIGHT = {PayoutStatus.PROCESSING, PayoutStatus.SUBMITTED}
VALID_ACCOUNT = {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"}


def fund(organization: Organization, amount: Decimal | str, currency: str = "RUB") -> IncomingTransfer:
    """Credit an organisation the way the bank does: an incoming transfer."""
    transfer, _ = incoming_transfer_receive(
        operation_id=f"op_test_{uuid.uuid4().hex}",
        payer_inn=organization.inn,
        amount=Decimal(amount),
        currency=currency,
        document_number="T-1",
        document_date=date(2026, 11, 1),
    )
    return transfer


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("inn",)

    inn = factory.Iterator(["7707083893", "7736207543", "7728168971", "500100732259"])
    name = factory.Sequence(lambda n: f"Organisation {n}")


class PayoutFactory(factory.django.DjangoModelFactory[Payout]):
    """A payout in any status, with the ledger where that status puts it: funded, held, and the
    hold posted (paid) or voided (failed, canceled)."""

    class Meta:
        model = Payout

    organization = factory.SubFactory(OrganizationFactory)
    amount = Decimal("100.50")
    currency = "RUB"
    recipient: Any = factory.LazyFunction(lambda: dict(VALID_ACCOUNT))
    description = "March fee"
    status = PayoutStatus.NEW
    idempotency_key = factory.Sequence(lambda n: f"key-{n}")
    request_fingerprint = "0" * 64

    @classmethod
    def _create(cls, model_class: type[Payout], *args: Any, **kwargs: Any) -> Payout:
        # Due as the code makes it: a new payout at once, an in-flight one after the first step of
        # the reconciler's backoff, a final one never.
        status = kwargs.get("status", PayoutStatus.NEW)
        if "next_check_at" not in kwargs and status != PayoutStatus.NEW:
            first_look = timedelta(seconds=settings.RECONCILE_BACKOFF_SECONDS[0])
            kwargs["next_check_at"] = timezone.now() + first_look if status in IN_FLIGHT else None
        payout: Payout = super()._create(model_class, *args, **kwargs)
        fund(payout.organization, payout.amount, payout.currency)
        entries.hold_place(payout=payout)
        if payout.status == PayoutStatus.PAID:
            entries.hold_post(payout=payout)
        elif payout.status in {PayoutStatus.FAILED, PayoutStatus.CANCELED}:
            entries.hold_void(payout=payout)
        return payout


def client_for(organization: Organization) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(organization=organization)}")
    return client
