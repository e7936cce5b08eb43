"""The development inbox in Chromium: the demo organisation's endpoint receives its payout's events
over real HTTP, signed, and the page shows each verified, without a reload."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from rest_framework.test import APIClient

from payouts.models import Organization
from payouts.notifications.endpoints import endpoint_create
from tests.e2e.conftest import PLAIN_ACCOUNT, WAIT_SECONDS, create, status_becomes, wait_for
from webhook_inbox.models import InboxMessage

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("ledger_is_consistent"),
]

INBOX_PAGE = "/dev/webhook-inbox/"


def test_the_inbox_shows_a_payouts_events_each_verified(
    browser: Browser,
    money_path: str,
    funded_org: Organization,
    e2e_api: APIClient,
    settings: Any,
    tmp_path: Path,
) -> None:
    # given the demo organisation's endpoint at the inbox, which knows its secret (as make run sets up)
    settings.WEBHOOK_INBOX_SECRET_FILE = tmp_path / "inbox-secret"
    endpoint = endpoint_create(
        organization=funded_org,
        url=f"{money_path}{INBOX_PAGE}receive/",
        enabled_events=["payout.created", "payout.processing", "payout.submitted", "payout.paid"],
    )
    settings.WEBHOOK_INBOX_SECRET_FILE.write_text(endpoint.secret)
    context = browser.new_context(base_url=money_path, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_SECONDS * 1000)
    expect.set_options(timeout=WAIT_SECONDS * 1000)
    page.goto(INBOX_PAGE)

    # when a payout goes the whole way
    payout = create(e2e_api, PLAIN_ACCOUNT, "inbox-1")
    status_becomes(e2e_api, payout["id"], "paid")
    wait_for(
        lambda: InboxMessage.objects.filter(event_type="payout.paid").exists(),
        what="payout.paid to reach the inbox",
    )

    # then the page shows its four events, each verified with the endpoint's secret
    rows = page.locator(f'tr.message:has(code:text-is("{payout["id"]}"))')
    expect(rows).to_have_count(4)
    expect(rows.locator(".type")).to_have_text(
        ["payout.paid", "payout.submitted", "payout.processing", "payout.created"]
    )
    expect(rows.locator(".ok")).to_have_count(4)
    paid = page.locator('tr.message[data-type="payout.paid"]').first
    expect(paid.locator(".status")).to_have_text("paid")
    assert not InboxMessage.objects.filter(verified=False).exists()
    context.close()
