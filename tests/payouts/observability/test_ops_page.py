"""`/ops/`: staff only, behind the admin's login; the state now with links to the admin's lists,
and the last hour's final statuses and failure codes from the counters' snapshots."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from payouts.models import Actor, PayoutStatus
from payouts.observability.ledger import ledger_check_record
from payouts.observability.snapshots import metrics_snapshot_take
from payouts.transitions import payout_transition
from tests.payouts.factories import PayoutFactory

S = PayoutStatus
URL = "/ops/"


@pytest.fixture
def staff(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_user("ops", password="ops-pass", is_staff=True))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("is_staff", [None, False], ids=["anonymous", "not-staff"])
def test_only_staff_see_the_overview(is_staff: bool | None) -> None:
    client = Client()
    if is_staff is not None:
        client.force_login(User.objects.create_user("someone", password="pass", is_staff=is_staff))

    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/ops/")


@pytest.mark.django_db
def test_the_overview_shows_the_state_now_with_links_to_the_admin(staff: Client, settings: Any) -> None:
    settings.STUCK_AFTER_HOURS = 1.0
    PayoutFactory(status=S.SUBMITTED, processing_at=timezone.now() - timedelta(hours=3))
    PayoutFactory(status=S.PROCESSING, processing_at=timezone.now())
    ledger_check_record()

    page = staff.get(URL).content.decode()

    stuck = re.search(r'id="stuck".*?href="([^"]+)">(\d+)<', page, re.S)
    assert stuck is not None and stuck.groups() == ("/admin/payouts/payout/?stuck=yes", "1")
    assert re.search(r'id="in-flight">\s*<div class="value">2<', page)
    assert 'href="/admin/payouts/payout/?status__exact=processing">1 processing' in page
    assert re.search(r'id="ledger">\s*<div class="value">ok<', page)
    assert 'data-queue="payouts"' in page


@pytest.mark.django_db
def test_the_last_hour_charts_final_statuses_and_lists_failure_codes(
    staff: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    metrics_snapshot_take(timezone.now() - timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        for code in ("account_closed", "account_closed", "declined"):
            payout = PayoutFactory(status=S.SUBMITTED)
            payout_transition(payout_id=payout.pk, to_status=S.FAILED, actor=Actor.BANK, failure_code=code)
        paid = PayoutFactory(status=S.SUBMITTED)
        payout_transition(payout_id=paid.pk, to_status=S.PAID, actor=Actor.BANK)

    page = staff.get(URL).content.decode()

    hour = page[page.index("Last hour, per minute") : page.index("Last day, per 20 minutes")]
    assert re.findall(r"<title>\d\d:\d\d: (\d+) (\w+)</title>", hour) == [("1", "paid"), ("3", "failed")]
    window = page[page.index('data-window="1"') : page.index('data-window="2"')]
    assert re.search(r'final-paid">1<', window) and re.search(r'final-failed">3<', window)
    codes = re.findall(r'class="failure-code"><td><code>(\w+)</code></td><td class="n">(\d+)<', window)
    assert codes == [("account_closed", "2"), ("declined", "1")]
