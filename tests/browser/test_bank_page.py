"""A person drives the simulated bank from its page, in Chromium, and the service feels it: the
page refreshes on its own, its buttons go through the bank's code, and the bank's signed webhooks
reach the service over real HTTP."""

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from rest_framework.test import APIClient

from fake_bank.models import BankPayout, IncomingTransfer, Webhook, WebhookAttempt
from payouts.models import BankWebhookEvent, Organization, PayoutEvent
from tests.e2e.conftest import FUNDING_MINOR, PLAIN_ACCOUNT, create, rub, status_becomes, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("ledger_is_consistent"),
]

FUNDED = f"{FUNDING_MINOR / 100:.2f}"


def flash(page: Page) -> Any:
    return page.locator(".message-success")


def test_fail_a_waiting_payout_from_the_page_releases_the_hold(bank_page: Page, e2e_api: APIClient) -> None:
    # given the bank waits for a person (set with the page's policy form)
    bank_page.get_by_label("left for a person to pay, fail or cancel here").check()
    bank_page.get_by_role("button", name="Save policy").click()
    expect(flash(bank_page)).to_contain_text("left for a person to decide")
    # and a payout created through the service, its funds held
    payout = create(e2e_api, PLAIN_ACCOUNT, "browser-fail-1")
    status_becomes(e2e_api, payout["id"], "submitted")
    assert rub(e2e_api)["pending"] == "100.50"
    # when it appears on the page by itself (no reload) and a person fails it with account_closed
    row = bank_page.locator(f'tbody.payout[data-reference="{payout["id"]}"]')
    expect(row.locator(".status")).to_have_text("processing")
    expect(row.locator("td.num")).to_have_text("100.50")
    row.get_by_label(re.compile("^Failure code")).select_option("account_closed")
    row.get_by_role("button", name=re.compile("^Fail ")).click()
    # then the page says so, and the service learns it from the bank's signed webhook
    expect(flash(bank_page)).to_contain_text("failed with account_closed")
    body = status_becomes(e2e_api, payout["id"], "failed")
    assert body["failure_code"] == "account_closed"
    assert rub(e2e_api) == {"currency": "RUB", "available": FUNDED, "pending": "0.00", "posted": FUNDED}
    expect(row.locator(".status")).to_have_text("failed")
    expect(row.locator(".webhook .state")).to_have_text("delivered")


def test_incoming_transfer_from_the_page_grows_the_balance(
    bank_page: Page, e2e_api: APIClient, funded_org: Organization
) -> None:
    # given
    assert rub(e2e_api)["available"] == FUNDED
    # when a person sends 250.75 RUB to the organisation's INN with the form
    bank_page.get_by_label("To INN").fill(funded_org.inn)
    bank_page.get_by_label("Amount").fill("250.75")
    bank_page.get_by_label("Currency").select_option("RUB")
    bank_page.get_by_label("Document number").fill("BROWSER-1")
    bank_page.get_by_label("Document date").fill("2026-11-22")
    bank_page.get_by_role("button", name="Send transfer").click()
    # then
    expect(flash(bank_page)).to_contain_text("Sent 250.75 RUB to INN 7707083893")
    transfer = IncomingTransfer.objects.get(document_number="BROWSER-1")
    assert transfer.amount == 25075
    wait_for(lambda: rub(e2e_api)["available"] == "10250.75", what="the balance to grow by 250.75")
    assert rub(e2e_api)["posted"] == "10250.75"
    expect(bank_page.locator(f"#transfer-{transfer.id} .webhook .state")).to_have_text("delivered")


def test_resending_a_paid_payouts_webhook_changes_nothing_at_the_service(
    bank_page: Page, e2e_api: APIClient
) -> None:
    # given a payout the bank paid and announced (the default policy pays)
    payout = create(e2e_api, PLAIN_ACCOUNT, "browser-resend-1")
    status_becomes(e2e_api, payout["id"], "paid")
    webhook = Webhook.objects.get(payout=BankPayout.objects.get(reference=payout["id"]))
    wait_for(
        lambda: Webhook.objects.filter(pk=webhook.pk, delivered_at__isnull=False).exists(),
        what="the first delivery to be acknowledged",
    )
    events = list(PayoutEvent.objects.filter(payout_id=payout["id"]).values_list("id", "to_status"))
    money = rub(e2e_api)
    assert money["posted"] == "9899.50"
    # when a person sends it again from the page
    item = bank_page.locator(f"#webhook-{webhook.pk}")
    expect(item.locator(".state")).to_have_text("delivered")
    item.get_by_role("button", name=re.compile("^Send again")).click()
    # then the bank records a second delivery of the same operation, acknowledged with a 2xx ...
    expect(flash(bank_page)).to_contain_text("sent again as delivery 2")
    second = wait_for(
        lambda: WebhookAttempt.objects.filter(webhook=webhook, delivery=2).first(),
        what="the second delivery",
    )
    assert 200 <= second.status_code < 300, second
    expect(item.locator("tr.attempt")).to_have_count(2)
    expect(item.locator("tr.attempt").nth(1).locator(".http")).to_have_text(str(second.status_code))
    # ... and the service took it as a duplicate: no new event, no second effect
    assert BankWebhookEvent.objects.filter(operation_id=webhook.operation_id).count() == 1
    assert list(PayoutEvent.objects.filter(payout_id=payout["id"]).values_list("id", "to_status")) == events
    assert rub(e2e_api) == money
