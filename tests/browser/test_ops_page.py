"""The operators' overview in Chromium: after a few payouts through the whole stack it shows them
(the chart, the failure code, the state now), and the stuck count links to the admin's list of
exactly the stuck payouts."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect
from rest_framework.test import APIClient

from payouts.models import Organization, PayoutStatus
from payouts.observability.ledger import ledger_check_record
from payouts.observability.snapshots import metrics_snapshot_take
from payouts.services import operator_ensure
from tests.e2e.conftest import PLAIN_ACCOUNT, WAIT_SECONDS, create, status_becomes
from tests.payouts.factories import PayoutFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("ledger_is_consistent"),
]

FAILS_CLOSED = "40702810538000000003"


def test_the_overview_shows_recent_payouts_and_links_the_stuck_ones_to_the_admin(
    browser: Browser, money_path: str, funded_org: Organization, e2e_api: APIClient, settings: Any
) -> None:
    # given an operator, the counters snapshotted, a payout paid, one failed by the bank, and one in
    # flight past the stuck threshold
    operator_ensure(username="ops", password="ops-pass")
    settings.STUCK_AFTER_HOURS = 1.0
    metrics_snapshot_take(timezone.now() - timedelta(seconds=5))
    paid = create(e2e_api, PLAIN_ACCOUNT, "ops-paid")
    failed = create(e2e_api, FAILS_CLOSED, "ops-failed")
    status_becomes(e2e_api, paid["id"], "paid")
    status_becomes(e2e_api, failed["id"], "failed")
    stuck = PayoutFactory(
        organization=funded_org,
        status=PayoutStatus.SUBMITTED,
        processing_at=timezone.now() - timedelta(hours=2),
    )
    ledger_check_record()

    # when the operator signs in at the admin's login and lands on /ops/
    context = browser.new_context(base_url=money_path, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_SECONDS * 1000)
    expect.set_options(timeout=WAIT_SECONDS * 1000)
    page.goto("/ops/")
    expect(page).to_have_url(f"{money_path}/admin/login/?next=/ops/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "ops-pass")
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{money_path}/ops/")

    # then the last hour shows the paid and the failed payout, the failure's code, the state now
    hour = page.locator(".chart").first
    expect(hour.locator("rect.paid")).to_have_count(1)
    expect(hour.locator("rect.failed")).to_have_count(1)
    window = page.locator('[data-window="1"]')
    expect(window.locator(".final-paid")).to_have_text("1")
    expect(window.locator(".final-failed")).to_have_text("1")
    expect(window.locator(".failure-code")).to_have_text("account_closed1")
    expect(window.locator(".bank-latency")).to_contain_text(" ms")
    expect(page.locator("#ledger .value")).to_have_text("ok")
    expect(page.locator("#stuck .value")).to_have_text("1")
    expect(page.locator('.queue[data-queue="payouts"]')).to_be_visible()

    # and the stuck count opens the admin's list of exactly the stuck payout
    page.locator("#stuck a").click()
    expect(page).to_have_url(f"{money_path}/admin/payouts/payout/?stuck=yes")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(str(stuck.pk))
    context.close()
