"""`/health/live` and `/health/ready`."""

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from payouts.models import PayoutStatus
from tests.payouts.factories import PayoutFactory


@pytest.mark.django_db
def test_health_live_and_ready_answer_without_auth() -> None:
    client = Client()
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": True}


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_health_ready_without_the_broker_is_degraded_naming_it_still_ready() -> None:
    # the API takes and shows payouts without Redis: a load balancer must keep sending requests
    response = Client().get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["degraded"] == ["broker"]


@pytest.mark.django_db
def test_health_ready_counts_the_stuck_payouts(settings: Any) -> None:
    # given one payout in flight for two days, one for an hour, one paid long ago
    settings.STUCK_AFTER_HOURS = 24
    now = timezone.now()
    PayoutFactory(status=PayoutStatus.SUBMITTED, processing_at=now - timedelta(days=2))
    PayoutFactory(status=PayoutStatus.PROCESSING, processing_at=now - timedelta(hours=1))
    PayoutFactory(status=PayoutStatus.PAID, processing_at=now - timedelta(days=3))

    assert Client().get("/health/ready").json()["stuck_payouts"] == 1


@pytest.mark.django_db
def test_health_ready_names_the_database_when_it_is_down() -> None:
    with mock.patch("payouts.api.health.connection.cursor", side_effect=Exception("down")):
        response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
