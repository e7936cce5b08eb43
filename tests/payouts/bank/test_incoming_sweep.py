"""The sweep of the bank's incoming transfers: what a lost webhook did not announce is credited,
once, whichever of the webhook and the sweep comes first; the cursor moves only past what was
handled."""

from decimal import Decimal
from typing import Any

import httpx
import pytest

from payouts.bank.incoming_sweep import incoming_transfers_sweep
from payouts.bank.webhooks import incoming_transfer_apply
from payouts.models import BankFeedCursor, IncomingTransfer, LedgerAccount, Organization, WebhookOutcome
from provider.events import IncomingTransfer as BankTransfer


def listed(organization: Organization, n: int, amount: int = 10_000) -> dict[str, Any]:
    return {
        "id": f"it_{n}",
        "operation_id": f"op_{n}",
        "payer_inn": organization.inn,
        "amount": amount,
        "currency": "RUB",
        "document_number": f"D-{n}",
        "document_date": "2026-11-22",
        "created_at": "2026-11-22T10:00:00Z",
    }


def page(items: list[dict[str, Any]], *, has_more: bool = False, cursor: str | None = None) -> httpx.Response:
    next_cursor = items[-1]["id"] if items else cursor
    return httpx.Response(200, json={"data": items, "next_cursor": next_cursor, "has_more": has_more})


def available(organization: Organization) -> Decimal:
    return LedgerAccount.objects.get(organization=organization, currency="RUB").available


@pytest.mark.django_db
def test_a_transfer_no_webhook_announced_is_credited_once_and_the_cursor_moves_on(
    bank_api: Any, organization: Organization
) -> None:
    before = available(organization)
    route = bank_api.get(url__regex=r"/incoming-transfers").mock(
        side_effect=[page([listed(organization, 1)]), page([], cursor="it_1")]
    )

    first, second = incoming_transfers_sweep(), incoming_transfers_sweep()

    assert (first, second) == (1, 0)
    assert available(organization) == before + Decimal("100.00")
    assert IncomingTransfer.objects.get(operation_id="op_1").status == "credited"
    assert BankFeedCursor.objects.get(name="incoming_transfers").cursor == "it_1"
    assert "after=it_1" in str(route.calls[1].request.url)


@pytest.mark.django_db
def test_a_transfer_its_webhook_credited_is_left_as_it_is(bank_api: Any, organization: Organization) -> None:
    # given the webhook came first
    transfer = BankTransfer.from_json(listed(organization, 2))
    assert incoming_transfer_apply(operation_id="op_2", transfer=transfer).outcome == WebhookOutcome.APPLIED
    before = available(organization)
    bank_api.get(url__regex=r"/incoming-transfers").respond(
        200, json={"data": [listed(organization, 2)], "next_cursor": "it_2", "has_more": False}
    )

    # then the sweep finds it recorded and credits nothing
    assert incoming_transfers_sweep() == 0
    assert available(organization) == before
    # and a webhook arriving after the sweep would be a no-op too
    assert incoming_transfer_apply(operation_id="op_2", transfer=transfer).outcome == WebhookOutcome.NOOP


@pytest.mark.django_db
def test_the_sweep_reads_every_page_while_the_bank_has_more(
    bank_api: Any, organization: Organization
) -> None:
    bank_api.get(url__regex=r"/incoming-transfers").mock(
        side_effect=[
            page([listed(organization, 1), listed(organization, 2)], has_more=True),
            page([listed(organization, 3)]),
        ]
    )

    assert incoming_transfers_sweep() == 3
    assert BankFeedCursor.objects.get(name="incoming_transfers").cursor == "it_3"


@pytest.mark.django_db
def test_a_bank_that_cannot_be_reached_moves_nothing(bank_api: Any, organization: Organization) -> None:
    BankFeedCursor.objects.create(name="incoming_transfers", cursor="it_9")
    bank_api.get(url__regex=r"/incoming-transfers").respond(503)

    assert incoming_transfers_sweep() == 0
    assert BankFeedCursor.objects.get(name="incoming_transfers").cursor == "it_9"
