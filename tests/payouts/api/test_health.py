"""`/health/live` and `/health/ready`."""

from unittest import mock

import pytest
from django.test import Client, override_settings


@pytest.mark.django_db
def test_health_live_and_ready_answer_without_auth() -> None:
    client = Client()
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": True}


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_health_ready_names_the_broker_when_it_is_down() -> None:
    response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


@pytest.mark.django_db
def test_health_ready_names_the_database_when_it_is_down() -> None:
    with mock.patch("payouts.api.health.connection.cursor", side_effect=Exception("down")):
        response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
