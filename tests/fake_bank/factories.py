import uuid
from typing import Any

import factory
from factory.declarations import LazyFunction

from fake_bank.models import BankPayout, BankPayoutStatus

NORMAL_ACCOUNT = "40702810938000000001"
BIC = "044525225"


class BankPayoutFactory(factory.django.DjangoModelFactory[BankPayout]):
    class Meta:
        model = BankPayout

    reference = LazyFunction(lambda: str(uuid.uuid4()))  # type: ignore[no-untyped-call]
    amount = 10050
    currency = "RUB"
    recipient: Any = LazyFunction(  # type: ignore[no-untyped-call]
        lambda: {"name": "Ivan Petrov", "account_number": NORMAL_ACCOUNT, "bic": BIC}
    )
    description = "March fee"
    status = BankPayoutStatus.PROCESSING
