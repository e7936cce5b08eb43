"""The payout rules hold in the services themselves, for any caller, without HTTP: the currency
allow-list, the amount's sign, places and maximum, the quantised amount, and who may ask for which
status. A refused request writes nothing; no create queues anything."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from payouts import tasks
from payouts.errors import (
    AmountNotAllowed,
    CurrencyNotAllowed,
    InvalidField,
    InvalidTransition,
    StatusNotAllowed,
)
from payouts.models import Actor, EntryKind, LedgerEntry, Organization, Payout, PayoutEvent, PayoutStatus
from payouts.services import ManualSettlement, PayoutRequest, payout_create, payout_update
from tests.payouts.factories import VALID_ACCOUNT, PayoutFactory, fund

S = PayoutStatus


def request_for(amount: str, currency: str = "RUB") -> PayoutRequest:
    return PayoutRequest(
        amount=Decimal(amount), currency=currency, recipient=dict(VALID_ACCOUNT), description="March fee"
    )


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Whatever a create queued (it should queue nothing: the dispatcher hands payouts over)."""
    published: list[Any] = []
    monkeypatch.setattr(tasks.process_payout, "delay", published.append)
    monkeypatch.setattr(tasks.process_payouts, "delay", published.append)
    return published


Create = Callable[[PayoutRequest], tuple[Payout, bool]]


@pytest.fixture
def create(organization: Organization, django_capture_on_commit_callbacks: Any) -> Create:
    """`payout_create` for `organization` under the key "k", running what it leaves for after commit."""

    def create(request: PayoutRequest) -> tuple[Payout, bool]:
        with django_capture_on_commit_callbacks(execute=True):
            return payout_create(organization=organization, idempotency_key="k", request=request)

    return create


def assert_nothing_written(queued: list[Any]) -> None:
    assert not Payout.objects.exists()
    assert not PayoutEvent.objects.exists()
    assert not LedgerEntry.objects.filter(kind=EntryKind.PENDING).exists()
    assert queued == []


REFUSED_CREATES: list[tuple[str, str, str, type[InvalidField], str]] = [
    # (case id, amount, currency, the error, the reason it gives for the field)
    ("currency-unknown", "100.00", "XYZ", CurrencyNotAllowed, "Currency must be one of: RUB, USD, EUR, GBP."),
    (
        "currency-lowercase",
        "100.00",
        "rub",
        CurrencyNotAllowed,
        "Currency must be one of: RUB, USD, EUR, GBP.",
    ),
    ("amount-zero", "0", "RUB", AmountNotAllowed, "The amount must be positive."),
    ("amount-negative", "-1.00", "RUB", AmountNotAllowed, "The amount must be positive."),
    ("amount-over-max", "10000000.01", "RUB", AmountNotAllowed, "The amount may be at most 10000000."),
    ("amount-too-precise", "1.005", "RUB", AmountNotAllowed, "RUB allows at most 2 decimal places."),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "currency", "error", "reason"),
    [c[1:] for c in REFUSED_CREATES],
    ids=[c[0] for c in REFUSED_CREATES],
)
def test_payout_create_refuses_a_request_breaking_a_rule_and_writes_nothing(
    create: Create,
    queued: list[Any],
    settings: Any,
    amount: str,
    currency: str,
    error: type[InvalidField],
    reason: str,
) -> None:
    # given
    settings.PAYOUT_CURRENCIES = ["RUB", "USD", "EUR", "GBP"]
    settings.PAYOUT_MAX_AMOUNT = Decimal("10000000")

    # when
    with pytest.raises(error) as caught:
        create(request_for(amount, currency))

    # then: the error renders like the field's validation error, and nothing was written
    assert (caught.value.code, caught.value.http_status) == ("validation_error", 400)
    assert caught.value.details == {error.field: [reason]}
    assert_nothing_written(queued)


@pytest.mark.django_db
def test_payout_create_follows_the_configured_currencies(
    create: Create, organization: Organization, queued: list[Any], settings: Any
) -> None:
    # given USD is known and funded, but not configured
    settings.PAYOUT_CURRENCIES = ["RUB"]

    # when / then
    with pytest.raises(CurrencyNotAllowed):
        create(request_for("1.00", "USD"))
    assert_nothing_written(queued)
    _, created = create(request_for("1.00"))
    assert created


@pytest.mark.django_db
def test_payout_create_follows_the_configured_maximum(
    create: Create, organization: Organization, queued: list[Any], settings: Any
) -> None:
    # given
    settings.PAYOUT_MAX_AMOUNT = Decimal("50")

    # when / then
    with pytest.raises(AmountNotAllowed) as caught:
        create(request_for("50.01"))
    assert caught.value.details == {"amount": ["The amount may be at most 50."]}
    assert_nothing_written(queued)
    payout, created = create(request_for("50"))
    assert created and payout.amount == Decimal("50")


@pytest.mark.django_db
def test_payout_create_allows_no_decimal_places_for_a_currency_without_minor_unit(
    create: Create, organization: Organization, queued: list[Any], settings: Any
) -> None:
    # given JPY (exponent 0) is configured and funded
    settings.PAYOUT_CURRENCIES = ["RUB", "JPY"]
    fund(organization, "100000", "JPY")

    # when / then
    with pytest.raises(AmountNotAllowed) as caught:
        create(request_for("1.5", "JPY"))
    assert caught.value.details == {"amount": ["JPY allows at most 0 decimal places."]}
    assert_nothing_written(queued)
    payout, created = create(request_for("1500", "JPY"))
    assert created
    assert str(payout.amount) == "1500"


@pytest.mark.django_db
def test_payout_create_quantises_the_amount_to_the_currency_places(create: Create, queued: list[Any]) -> None:
    # given / when
    payout, created = create(request_for("7.5"))
    replay, replay_created = create(request_for("7.50"))

    # then: 7.5 and 7.50 are one request, for 7.50
    assert created and not replay_created
    assert str(payout.amount) == "7.50"
    assert replay.pk == payout.pk
    assert queued == []


@pytest.mark.django_db
def test_payout_create_accepts_a_request_keeping_the_rules(create: Create, queued: list[Any]) -> None:
    # given / when
    payout, created = create(request_for("0.01"))

    # then: the payout, its first event and its hold are written; nothing is published (the payout
    # in `new` is the dispatcher's to hand over)
    assert created
    assert PayoutEvent.objects.filter(payout=payout, to_status=S.NEW).count() == 1
    assert LedgerEntry.objects.filter(payout=payout, kind=EntryKind.PENDING).count() == 1
    assert queued == []


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PAID, S.FAILED, S.PROCESSING, S.SUBMITTED])
def test_payout_update_client_may_not_ask_for_other_than_canceled(
    organization: Organization, status: PayoutStatus
) -> None:
    # given
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED, description="before")
    events = PayoutEvent.objects.count()

    # when
    with pytest.raises(StatusNotAllowed) as caught:
        payout_update(payout=payout, actor=Actor.CLIENT, status=status, description="after")

    # then: refused like the API's field error, and nothing changed
    assert (caught.value.code, caught.value.http_status) == ("validation_error", 400)
    assert caught.value.details == {"status": ["Clients may only set the status to 'canceled'."]}
    payout.refresh_from_db()
    assert (payout.status, payout.description) == (S.SUBMITTED, "before")
    assert PayoutEvent.objects.count() == events


@pytest.mark.django_db
def test_payout_update_client_may_cancel(organization: Organization) -> None:
    payout = PayoutFactory(organization=organization, status=S.NEW)

    updated = payout_update(payout=payout, actor=Actor.CLIENT, status=S.CANCELED)

    assert updated.status == S.CANCELED


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "status"), [(S.SUBMITTED, S.PAID), (S.PROCESSING, S.FAILED)])
def test_payout_update_operator_may_settle_by_hand(
    organization: Organization, start: PayoutStatus, status: PayoutStatus
) -> None:
    # given an operator with the permission (forcing the failure: no bank is asked here)
    payout = PayoutFactory(organization=organization, status=start)
    settlement = ManualSettlement(permitted=True, force=True)

    updated = payout_update(
        payout=payout, actor=Actor.OPERATOR, status=status, reason="confirmed by phone", settlement=settlement
    )

    assert updated.status == status
    assert PayoutEvent.objects.filter(payout=payout, to_status=status, actor=Actor.OPERATOR).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PROCESSING, S.SUBMITTED, S.NEW])
def test_payout_update_operator_may_not_ask_for_a_status_of_the_money_path(
    organization: Organization, status: PayoutStatus
) -> None:
    payout = PayoutFactory(organization=organization, status=S.NEW)

    with pytest.raises(StatusNotAllowed):
        payout_update(payout=payout, actor=Actor.OPERATOR, status=status)

    payout.refresh_from_db()
    assert payout.status == S.NEW


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.FAILED, S.PAID])
def test_a_settlement_decided_on_a_stale_new_payout_is_refused_once_the_worker_moved_it(
    organization: Organization, status: PayoutStatus
) -> None:
    # given the operator's request read the payout `new`, and the worker has since taken it to the bank
    payout = PayoutFactory(organization=organization, status=S.NEW)
    Payout.objects.filter(pk=payout.pk).update(status=S.PROCESSING)

    # then the move, decided without the in-flight checks, is refused under the lock
    with pytest.raises(InvalidTransition):
        payout_update(
            payout=payout,
            actor=Actor.OPERATOR,
            status=status,
            reason="by hand",
            settlement=ManualSettlement(permitted=False),
        )
    assert Payout.objects.get(pk=payout.pk).status == S.PROCESSING
    assert not LedgerEntry.objects.filter(payout=payout).exclude(kind=EntryKind.PENDING).exists()
