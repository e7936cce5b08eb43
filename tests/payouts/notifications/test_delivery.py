"""Client webhooks going out: fan-out to subscribed endpoints, Standard Webhooks signatures that
the official `standardwebhooks` package verifies, retries under one message id, every attempt
recorded, an endpoint that only fails disabled, one worker per endpoint."""

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from payouts.models import (
    DeliveryStatus,
    Event,
    Organization,
    Payout,
    PayoutStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from payouts.notifications import delivery
from payouts.notifications.endpoints import endpoint_create, endpoint_secret_rotate
from payouts.transitions import Actor, payout_transition
from tests.payouts.factories import OrganizationFactory, PayoutFactory
from tests.payouts.receiver import Receiver

S = PayoutStatus


def _endpoint(organization: Organization, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    """An endpoint for EVENTS; by default `payout.paid` only (the factories' funding is an event too)."""
    return endpoint_create(organization=organization, url=url, enabled_events=events or ["payout.paid"])


def paid(organization: Organization) -> Payout:
    """A payout of ORGANIZATION the bank has paid: its `payout.paid` event written."""
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED)
    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
    return payout


def _deliver_all(endpoint: WebhookEndpoint) -> None:
    delivery.events_fan_out()
    delivery.endpoint_deliver(endpoint_id=endpoint.pk)


def _verified(endpoint: WebhookEndpoint, message: Any) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(endpoint.secret).verify(message.body, message.headers)
    return payload


@pytest.mark.django_db
def test_each_event_goes_to_every_subscribed_endpoint_signed_as_standard_webhooks_verifies(
    receiver: Receiver,
) -> None:
    organization = OrganizationFactory(inn="7707083893")
    everything = _endpoint(organization, receiver.url("/ok"), ["*"])
    paid_only = _endpoint(organization, receiver.url("/ok?paid"), ["payout.paid"])
    stranger = _endpoint(OrganizationFactory(inn="7736207543"), receiver.url("/ok?stranger"), ["*"])
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED)

    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
    _deliver_all(everything)
    _deliver_all(paid_only)
    _deliver_all(stranger)

    credited, event = Event.objects.filter(organization=organization).order_by("created_at", "id")
    assert (credited.type, event.type) == ("balance.credited", "payout.paid")  # the factory funds it
    to_everything = receiver.on("/ok")
    to_paid_only = receiver.on("/ok?paid")
    assert [m.headers["webhook-id"] for m in to_everything] == [credited.public_id, event.public_id]
    assert [m.headers["webhook-id"] for m in to_paid_only] == [event.public_id]
    assert receiver.on("/ok?stranger") == []
    for endpoint, message in ((everything, to_everything[1]), (paid_only, to_paid_only[0])):
        payload = _verified(endpoint, message)
        assert payload["id"] == event.public_id
        assert payload["type"] == "payout.paid"
        assert payload["organization"] == organization.inn
        assert payload["data"]["object"]["id"] == str(payout.pk)
        assert payload["data"]["object"]["status"] == "paid"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


@pytest.mark.django_db
def test_a_failing_message_is_retried_under_the_same_id_and_every_attempt_is_recorded(
    receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [0, 0, 0, 0]  # each retry due at once
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/flaky"), ["payout.paid"])
    paid(organization)

    _deliver_all(endpoint)

    messages = receiver.on("/flaky")
    assert len(messages) == 3
    assert len({m.headers["webhook-id"] for m in messages}) == 1
    for message in messages:
        _verified(endpoint, message)
    sent = WebhookDelivery.objects.get()
    assert (sent.status, sent.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    assert list(sent.attempt_log.values_list("status_code", flat=True)) == [500, 500, 200]
    assert [a.response_body for a in sent.attempt_log.all()] == ["not yet", "not yet", "ok"]
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # the success cleared it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status_code", "error"),
    [("/redirect", 302, ""), ("/fail", 500, ""), ("/slow", None, "timed out")],
    ids=["redirect-not-followed", "server-error", "timeout"],
)
def test_anything_but_a_2xx_in_time_is_a_failure_scheduled_for_retry(
    receiver: Receiver, settings: Any, path: str, status_code: int | None, error: str
) -> None:
    settings.WEBHOOK_RETRY_SCALE = 1.0  # the retry is seconds away, not due within the test
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url(path))
    paid(organization)

    _deliver_all(endpoint)

    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == status_code
    assert attempt.error.startswith(error)
    sent = WebhookDelivery.objects.get()
    assert (sent.status, sent.attempts) == (DeliveryStatus.PENDING, 1)
    assert sent.next_attempt_at is not None and sent.next_attempt_at > attempt.attempted_at
    assert receiver.on("/ok") == []  # the redirect was not followed


@pytest.mark.django_db
def test_only_the_start_of_an_answer_is_read_and_kept(receiver: Receiver) -> None:
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/big"))
    paid(organization)

    _deliver_all(endpoint)

    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == 200
    assert attempt.response_body == "x" * 2048


@pytest.mark.django_db
def test_after_the_last_attempt_of_the_schedule_the_delivery_has_failed(
    receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [0, 0, 0]
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/fail"))
    paid(organization)

    _deliver_all(endpoint)

    sent = WebhookDelivery.objects.get()
    assert (sent.status, sent.attempts, sent.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)


@pytest.mark.django_db
def test_an_endpoint_whose_every_delivery_failed_for_five_days_is_disabled(
    receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [0, 3600, 3600, 3600, 3600]
    settings.WEBHOOK_RETRY_SCALE = 1.0
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/fail"))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        paid(organization)
        _deliver_all(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == start
    assert not endpoint.disabled

    with time_machine.travel(start + timedelta(days=4, hours=23), tick=False):
        delivery.endpoint_deliver(endpoint_id=endpoint.pk)
    endpoint.refresh_from_db()
    assert not endpoint.disabled

    with time_machine.travel(start + timedelta(days=5, hours=1), tick=False):
        delivery.endpoint_deliver(endpoint_id=endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.disabled
    assert "every delivery failed since" in endpoint.disabled_reason
    # and a disabled endpoint is neither handed out nor sent to
    assert endpoint.pk not in delivery.endpoints_to_deliver(now=start + timedelta(days=30))


@pytest.mark.django_db
def test_after_a_rotation_messages_carry_both_signatures_until_the_overlap_ends(
    receiver: Receiver, settings: Any
) -> None:
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/ok"))
    old_secret = endpoint.secret
    endpoint = endpoint_secret_rotate(endpoint=endpoint)
    paid(organization)
    _deliver_all(endpoint)

    message = receiver.on("/ok")[0]
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(message.body, message.headers)
    Webhook(endpoint.secret).verify(message.body, message.headers)

    # after the overlap, the new secret alone
    assert endpoint.previous_secret_expires_at is not None
    later = endpoint.previous_secret_expires_at + timedelta(seconds=1)
    signature = delivery.signatures(endpoint, msg_id="evt_x", at=later, body="{}")
    assert len(signature.split(" ")) == 1


@pytest.mark.django_db
def test_one_worker_at_a_time_per_endpoint(receiver: Receiver) -> None:
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/ok"))
    paid(organization)
    delivery.events_fan_out()

    # given another worker holds the endpoint
    held = delivery.endpoint_lease(endpoint_id=endpoint.pk)
    assert held is not None

    # then it is not handed out, and a second worker sends nothing
    assert endpoint.pk not in delivery.endpoints_to_deliver()
    assert delivery.endpoint_deliver(endpoint_id=endpoint.pk) == 0
    assert receiver.received == []
    # the holder sends, and lets the endpoint go
    assert delivery.endpoint_deliver(endpoint_id=endpoint.pk, lease=held) == 1
    endpoint.refresh_from_db()
    assert endpoint.leased_until is None


@pytest.mark.django_db
def test_a_message_whose_task_was_lost_is_handed_out_again_once_its_hold_expires(
    receiver: Receiver, settings: Any
) -> None:
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/ok"))
    paid(organization)
    delivery.events_fan_out()
    held = delivery.endpoint_lease(endpoint_id=endpoint.pk)  # the task that was lost
    assert held is not None

    assert endpoint.pk in delivery.endpoints_to_deliver(now=held + timedelta(seconds=1))


@pytest.mark.django_db
def test_disabled_endpoints_get_no_deliveries_and_types_are_matched(receiver: Receiver) -> None:
    organization = OrganizationFactory()
    off = _endpoint(organization, receiver.url("/ok?off"))
    WebhookEndpoint.objects.filter(pk=off.pk).update(disabled=True)
    canceled_only = _endpoint(organization, receiver.url("/ok?canceled"), ["payout.canceled"])
    paid(organization)

    delivery.events_fan_out()

    assert not WebhookDelivery.objects.filter(endpoint__in=[off, canceled_only]).exists()
    assert not Event.objects.filter(fanned_out_at__isnull=True).exists()


@pytest.mark.django_db
def test_events_past_their_retention_are_pruned_with_their_deliveries(
    receiver: Receiver, settings: Any
) -> None:
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/ok"))
    paid(organization)
    _deliver_all(endpoint)
    kept = Event.objects.count()

    assert delivery.events_prune(now=timezone.now() + timedelta(days=29)) == 0
    assert delivery.events_prune(now=timezone.now() + timedelta(days=31)) == kept

    assert not Event.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert not WebhookAttempt.objects.exists()
    assert json.loads(receiver.on("/ok")[0].body)["type"] == "payout.paid"  # it had been sent


@pytest.mark.django_db
def test_a_failed_attempt_is_recorded_before_the_next_message_is_sent(
    receiver: Receiver, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an endpoint that fails, with two messages due (successes are recorded together; a
    # failure must show at once, or an endpoint that times out shows nothing for minutes)
    settings.WEBHOOK_RETRY_SCALE = 1.0
    organization = OrganizationFactory()
    endpoint = _endpoint(organization, receiver.url("/fail"))
    for _ in range(2):
        paid(organization)
    delivery.events_fan_out()
    recorded_before_each_send: list[int] = []
    send = delivery._send

    def counting_send(*args: Any, **kwargs: Any) -> Any:
        recorded_before_each_send.append(WebhookAttempt.objects.count())
        return send(*args, **kwargs)

    monkeypatch.setattr(delivery, "_send", counting_send)

    # when both are sent in one run
    delivery.endpoint_deliver(endpoint_id=endpoint.pk)

    # then the first failure was in the database before the second message went
    assert recorded_before_each_send == [0, 1]
    assert WebhookAttempt.objects.count() == 2
