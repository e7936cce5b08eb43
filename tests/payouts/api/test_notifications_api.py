"""The events API and the webhook endpoints API: tenancy, filters, cursors, the secret shown once,
deliveries with their attempts, a manual retry."""

from typing import Any

import pytest
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from payouts.models import Actor, Event, Organization, PayoutStatus, WebhookEndpoint
from payouts.notifications import delivery
from payouts.transitions import payout_transition
from tests.payouts.factories import PayoutFactory
from tests.payouts.receiver import Receiver

S = PayoutStatus
EVENTS = "/api/events/"
ENDPOINTS = "/api/webhook-endpoints/"


def _paid(organization: Organization) -> None:
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED)
    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)


@pytest.mark.django_db
def test_events_are_the_callers_own_newest_first_filtered_by_type(
    api: APIClient, other_api: APIClient, organization: Organization, other_organization: Organization
) -> None:
    _paid(organization)
    _paid(other_organization)

    mine = api.get(EVENTS).json()["results"]
    paid = api.get(EVENTS, {"type": ["payout.paid", "payout.failed"]}).json()["results"]

    own = Event.objects.filter(organization=organization).order_by("-created_at", "-id")
    assert [e["id"] for e in mine] == [e.public_id for e in own]
    assert {e["organization"] for e in mine} == {organization.inn}
    assert [e["type"] for e in paid] == ["payout.paid"]
    assert paid[0]["data"]["object"]["status"] == "paid"
    # another organisation's event is not found, by list or by id
    theirs = Event.objects.filter(organization=other_organization).first()
    assert theirs is not None
    assert theirs.public_id not in {e["id"] for e in mine}
    assert api.get(f"{EVENTS}{theirs.public_id}/").status_code == 404
    assert other_api.get(f"{EVENTS}{theirs.public_id}/").json()["id"] == theirs.public_id


@pytest.mark.django_db
def test_events_filter_by_time_and_page_with_a_cursor(api: APIClient, organization: Organization) -> None:
    for _ in range(3):
        _paid(organization)
    every = api.get(EVENTS).json()["results"]
    middle = every[2]["created_at"]

    before = api.get(EVENTS, {"created_before": middle}).json()["results"]
    after = api.get(EVENTS, {"created_after": middle}).json()["results"]
    first = api.get(EVENTS, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert {e["id"] for e in before} | {e["id"] for e in after} == {e["id"] for e in every}
    assert not {e["id"] for e in before} & {e["id"] for e in after}
    assert all(e["created_at"] < middle for e in before)
    assert all(e["created_at"] >= middle for e in after)
    assert [e["id"] for e in first["results"] + second["results"]] == [e["id"] for e in every[:4]]


@pytest.mark.django_db
@pytest.mark.parametrize("event_id", ["evt_nothex", "evt_" + "0" * 32, "01a2", "payout"])
def test_an_event_id_that_is_not_one_is_404(api: APIClient, event_id: str) -> None:
    response = api.get(f"{EVENTS}{event_id}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_an_endpoint_shows_its_secret_once_and_a_rotation_a_new_one(
    api: APIClient, receiver: Receiver
) -> None:
    created = api.post(ENDPOINTS, {"url": receiver.url("/ok"), "enabled_events": ["*"]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    Webhook(body["secret"])  # the official library takes it as it is

    shown = api.get(f"{ENDPOINTS}{body['id']}/").json()
    listed = api.get(ENDPOINTS).json()["results"]
    rotated = api.post(f"{ENDPOINTS}{body['id']}/rotate-secret/").json()

    assert "secret" not in shown
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != body["secret"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://127.0.0.1/", "enabled_events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1/", "enabled_events": ["payout.exploded"]}, "enabled_events"),
        ({"url": "http://127.0.0.1/", "enabled_events": []}, "enabled_events"),
        ({"url": "http://127.0.0.1/", "enabled_events": "*"}, "enabled_events"),
        ({"url": 12, "enabled_events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1/", "enabled_events": ["*"], "secret": "whsec_mine"}, "secret"),
    ],
    ids=["scheme", "unknown-type", "no-type", "not-a-list", "not-a-string", "own-secret"],
)
def test_an_endpoint_that_cannot_be_is_400_and_nothing_is_written(
    api: APIClient, body: dict[str, Any], field: str
) -> None:
    response = api.post(ENDPOINTS, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_an_organisation_has_at_most_the_configured_number_of_endpoints(
    api: APIClient, settings: Any
) -> None:
    settings.WEBHOOK_ENDPOINTS_PER_ORGANIZATION = 2
    body = {"url": "http://127.0.0.1:9/", "enabled_events": ["*"]}
    statuses = [api.post(ENDPOINTS, body, format="json").status_code for _ in range(3)]

    assert statuses == [201, 201, 409]
    assert WebhookEndpoint.objects.count() == 2


@pytest.mark.django_db
def test_endpoints_are_the_organisations_own_and_not_an_operators(
    api: APIClient, other_api: APIClient, operator_api: APIClient
) -> None:
    endpoint_id = api.post(
        ENDPOINTS, {"url": "http://127.0.0.1:9/", "enabled_events": ["*"]}, format="json"
    ).json()["id"]

    assert other_api.get(f"{ENDPOINTS}{endpoint_id}/").status_code == 404
    assert other_api.delete(f"{ENDPOINTS}{endpoint_id}/").status_code == 404
    assert other_api.get(ENDPOINTS).json()["results"] == []
    assert operator_api.get(ENDPOINTS).status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint_id).exists()


@pytest.mark.django_db
def test_an_endpoint_down_for_a_while_gets_every_event_once_it_recovers_and_lists_its_attempts(
    api: APIClient, organization: Organization, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [0, 0, 0, 0, 0, 0]
    endpoint = api.post(
        ENDPOINTS, {"url": receiver.url("/fail"), "enabled_events": ["payout.paid"]}, format="json"
    ).json()
    _paid(organization)
    _paid(organization)
    delivery.events_fan_out()

    # while it is down: two attempts each
    settings.WEBHOOK_DELIVERIES_PER_TASK = 2
    delivery.endpoint_deliver(endpoint_id=endpoint["id"])
    delivery.endpoint_deliver(endpoint_id=endpoint["id"])
    # then it comes back (the same endpoint, answering now)
    api.patch(f"{ENDPOINTS}{endpoint['id']}/", {"url": receiver.url("/ok")}, format="json")
    settings.WEBHOOK_DELIVERIES_PER_TASK = 100
    delivery.endpoint_deliver(endpoint_id=endpoint["id"])

    paid_events = {e.public_id for e in Event.objects.filter(type="payout.paid")}
    assert {m.headers["webhook-id"] for m in receiver.on("/ok")} == paid_events
    listed = api.get(f"{ENDPOINTS}{endpoint['id']}/deliveries/").json()["results"]
    assert {d["event_id"] for d in listed} == paid_events
    for sent in listed:
        assert sent["status"] == "succeeded"
        assert [a["status_code"] for a in sent["attempt_log"]] == [500, 500, 200]

    # and a manual retry sends one again, under the same id
    retried = api.post(f"{ENDPOINTS}{endpoint['id']}/deliveries/{listed[0]['id']}/retry/")
    assert retried.status_code == 202
    assert retried.json()["status"] == "pending"
    delivery.endpoint_deliver(endpoint_id=endpoint["id"])
    assert [m.headers["webhook-id"] for m in receiver.on("/ok")].count(listed[0]["event_id"]) == 2


@pytest.mark.django_db
def test_enabling_a_disabled_endpoint_clears_its_reason(api: APIClient) -> None:
    endpoint_id = api.post(
        ENDPOINTS, {"url": "http://127.0.0.1:9/", "enabled_events": ["*"]}, format="json"
    ).json()["id"]
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(disabled=True, disabled_reason="failing for 5 days")

    enabled = api.patch(f"{ENDPOINTS}{endpoint_id}/", {"disabled": False}, format="json").json()

    assert (enabled["disabled"], enabled["disabled_reason"]) == (False, "")
    assert api.delete(f"{ENDPOINTS}{endpoint_id}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
