from decimal import Decimal
from typing import Any

import factory

from payouts.models import Organization, Payout, PayoutStatus

VALID_ACCOUNT = {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"}


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("inn",)

    inn = factory.Iterator(["7707083893", "7736207543", "7728168971", "500100732259"])
    name = factory.Sequence(lambda n: f"Organisation {n}")


class PayoutFactory(factory.django.DjangoModelFactory[Payout]):
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
