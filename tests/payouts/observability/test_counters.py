"""Each counter moves by what happened, once it has committed: creates and replays, transitions and
rolled-back ones, the bank's calls and webhooks, the reconciler, client deliveries, batches, the
ledger check, and the queues' ages."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from redis import Redis
from rest_framework.test import APIClient

from config.celery import app as celery_app
from payouts import tasks
from payouts.bank.reconciliation import payout_reconcile, payouts_claim_for_sweep
from payouts.bank.submission import payout_submit
from payouts.metrics import TRANSITIONS
from payouts.models import Actor, Organization, Payout, PayoutStatus
from payouts.notifications import delivery
from payouts.notifications.endpoints import endpoint_create
from payouts.observability.ledger import ledger_check_record
from payouts.observability.snapshots import collected
from payouts.observability.state import PUBLISHED_AT_HEADER, queue_states
from payouts.transitions import payout_transition
from tests.payouts.bank_doubles import bank_payout_json, signed_webhook
from tests.payouts.factories import PayoutFactory
from tests.payouts.observability.samples import value
from tests.payouts.receiver import Receiver

S = PayoutStatus


class Moved:
    """What each of several series moved by across a block."""

    def __init__(self, **series: tuple[str, dict[str, str]]) -> None:
        self.series = series
        self.before = {key: value(name, **labels) for key, (name, labels) in series.items()}
        self.by: dict[str, float] = {}

    def done(self) -> dict[str, float]:
        self.by = {
            key: value(name, **labels) - self.before[key] for key, (name, labels) in self.series.items()
        }
        return self.by


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[[], Any]:
    """`with committed():` runs, at the block's end, what would run on commit (the test's own
    transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def created(currency: str, source: str = "api") -> tuple[str, dict[str, str]]:
    return ("payouts_created_total", {"currency": currency, "source": source})


def to(status: str, actor: str = "") -> tuple[str, dict[str, str]]:
    labels = {"to_status": status, **({"actor": actor} if actor else {})}
    return ("payouts_transitions_total", labels)


@pytest.mark.django_db
def test_a_create_is_counted_and_timed_and_its_replay_is_not_created_again(
    api: APIClient, payout_body: dict[str, Any], committed: Callable[[], Any]
) -> None:
    moved = Moved(created=created("RUB"), timed=("payouts_create_duration_seconds_count", {}))

    with committed():
        first = api.post("/api/payouts/", payout_body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
        again = api.post("/api/payouts/", payout_body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
        refused = api.post("/api/payouts/", {}, format="json", HTTP_IDEMPOTENCY_KEY="m-2")

    assert (first.status_code, again.status_code, refused.status_code) == (201, 200, 400)
    assert moved.done() == {"created": 1, "timed": 2}


@pytest.mark.django_db
def test_a_transition_is_counted_with_its_statuses_and_actor(committed: Callable[[], Any]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    moved = Moved(
        paid=(
            "payouts_transitions_total",
            {"from_status": "submitted", "to_status": "paid", "actor": "bank"},
        ),
        any_paid=to("paid"),
    )

    with committed():
        payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
        payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)  # no-op: no change

    assert moved.done() == {"paid": 1, "any_paid": 1}


class Boom(Exception):
    pass


def transition_then_fail(payout: Payout) -> None:
    with transaction.atomic():
        payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
        raise Boom


@pytest.mark.django_db
def test_a_rolled_back_transition_counts_nothing(committed: Callable[[], Any]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    moved = Moved(paid=to("paid"))

    with committed(), pytest.raises(Boom):
        transition_then_fail(payout)

    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert moved.done() == {"paid": 0}


def webhook(outcome: str, reason: str = "") -> tuple[str, dict[str, str]]:
    return ("payouts_bank_webhooks_total", {"outcome": outcome, "reason": reason})


@pytest.mark.django_db
def test_the_banks_webhooks_are_counted_by_outcome(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED, bank_reference="bp_1")
    body = {
        "type": "payout.paid",
        "operation_id": "op_m1",
        "occurred_at": "2026-11-22T07:30:01+00:00",
        "data": bank_payout_json(payout, status="paid"),
    }
    unknown = {**body, "operation_id": "op_m2", "data": {**body["data"], "reference": "nobody"}}
    moved = Moved(
        applied=webhook("applied"),
        duplicate=webhook("duplicate"),
        anomaly=webhook("anomaly"),
        bad_signature=webhook("refused", "invalid_signature"),
        no_headers=webhook("refused", "missing_headers"),
    )

    client = Client()
    for message, msg_id in ((body, "msg_1"), (body, "msg_2"), (unknown, "msg_3")):
        raw, headers = signed_webhook(message, secret_keys=bank_keys, msg_id=msg_id)
        assert (
            client.post("/api/webhooks/bank/", raw, content_type="application/json", **headers).status_code
            == 200
        )
    raw, headers = signed_webhook(body, secret_keys=bank_keys)
    tampered = raw.replace(b"op_m1", b"op_m9")
    assert (
        client.post("/api/webhooks/bank/", tampered, content_type="application/json", **headers).status_code
        == 401
    )
    assert client.post("/api/webhooks/bank/", raw, content_type="application/json").status_code == 400

    assert moved.done() == {"applied": 1, "duplicate": 1, "anomaly": 1, "bad_signature": 1, "no_headers": 1}


def call(operation: str, outcome: str) -> tuple[str, dict[str, str]]:
    return ("payouts_bank_calls_total", {"operation": operation, "outcome": outcome})


@pytest.mark.django_db
def test_the_banks_calls_are_counted_and_timed_by_operation_and_outcome(bank_api: Any) -> None:
    accepted, refused, unanswered = (PayoutFactory(status=S.NEW) for _ in range(3))
    bank_api.post("/payouts", headers={"Idempotency-Key": str(accepted.pk)}).respond(
        201, json=bank_payout_json(accepted, bank_id="bp_a")
    )
    bank_api.post("/payouts", headers={"Idempotency-Key": str(refused.pk)}).respond(
        422, json={"error": {"code": "invalid_account", "message": "no such account", "details": {}}}
    )
    bank_api.post("/payouts", headers={"Idempotency-Key": str(unanswered.pk)}).respond(503)
    moved = Moved(
        ok=call("submit_payout", "ok"),
        rejected=call("submit_payout", "rejected"),
        error=call("submit_payout", "error"),
        timed=("payouts_bank_call_duration_seconds_count", {"operation": "submit_payout"}),
    )

    payout_submit(payout_id=accepted.pk)
    payout_submit(payout_id=refused.pk)
    with pytest.raises(Exception, match="503"):
        payout_submit(payout_id=unanswered.pk)

    assert moved.done() == {"ok": 1, "rejected": 1, "error": 1, "timed": 3}


@pytest.mark.django_db
def test_the_reconciler_counts_what_it_claimed_and_what_it_did(bank_api: Any, settings: Any) -> None:
    settled = PayoutFactory(status=S.SUBMITTED, bank_reference="bp_s")
    unreachable = PayoutFactory(status=S.SUBMITTED, bank_reference="bp_u")
    bank_api.get(f"/payouts/by-reference/{settled.pk}").respond(
        200, json=bank_payout_json(settled, status="paid", bank_id="bp_s")
    )
    bank_api.get(f"/payouts/by-reference/{unreachable.pk}").respond(500)
    moved = Moved(
        claimed=("payouts_reconciler_claimed_total", {}),
        applied=("payouts_reconciler_actions_total", {"action": "applied"}),
        unavailable=("payouts_reconciler_actions_total", {"action": "bank_unavailable"}),
        lookups=call("find_payout", "ok"),
        failed_lookups=call("find_payout", "error"),
    )

    for payout_id in payouts_claim_for_sweep():
        payout_reconcile(payout_id=payout_id)

    assert moved.done() == {"claimed": 2, "applied": 1, "unavailable": 1, "lookups": 1, "failed_lookups": 1}


@pytest.mark.django_db
def test_client_webhook_deliveries_are_counted_by_outcome(
    receiver: Receiver, organization: Organization, settings: Any, committed: Callable[[], Any]
) -> None:
    settings.WEBHOOK_RETRY_SCALE = 1.0  # a failure's retry is not due within the test
    good = endpoint_create(organization=organization, url=receiver.url("/ok"), enabled_events=["payout.paid"])
    bad = endpoint_create(
        organization=organization, url=receiver.url("/fail"), enabled_events=["payout.paid"]
    )
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED)
    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
    moved = Moved(
        delivered=("payouts_client_webhook_deliveries_total", {"outcome": "delivered"}),
        http_error=("payouts_client_webhook_deliveries_total", {"outcome": "http_error"}),
        timed=("payouts_client_webhook_delivery_duration_seconds_count", {}),
    )

    with committed():
        delivery.events_fan_out()
        delivery.endpoint_deliver(endpoint_id=good.pk)
        delivery.endpoint_deliver(endpoint_id=bad.pk)

    assert moved.done() == {"delivered": 1, "http_error": 1, "timed": 2}


@pytest.mark.django_db
def test_a_batchs_items_are_counted_as_created_payouts(api: APIClient, committed: Callable[[], Any]) -> None:
    item = {
        "amount": "10.00",
        "currency": "RUB",
        "recipient": {"name": "A", "iban": "DE89370400440532013000"},
    }
    items = [item, {**item, "reference": "b"}, {**item, "currency": "USD", "reference": "c"}]
    moved = Moved(
        batches=("payouts_batches_created_total", {}),
        rub_items=("payouts_batch_items_total", {"currency": "RUB"}),
        usd_items=("payouts_batch_items_total", {"currency": "USD"}),
        rub_created=created("RUB", "batch"),
    )

    with committed():
        response, replay = (
            api.post("/api/payout-batches/", {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
            for _ in range(2)
        )

    assert (response.status_code, replay.status_code) == (201, 200), response.content
    assert moved.done() == {"batches": 1, "rub_items": 2, "usd_items": 1, "rub_created": 2}


@pytest.mark.django_db
def test_the_periodic_ledger_check_records_its_result_and_counts_it() -> None:
    moved = Moved(ok=("payouts_ledger_checks_total", {"result": "ok"}))
    assert ledger_check_record().ok
    payout = PayoutFactory(status=S.SUBMITTED)
    Payout.objects.filter(pk=payout.pk).update(status=S.PAID)  # behind the transition function's back
    moved_bad = Moved(bad=("payouts_ledger_checks_total", {"result": "violations"}))

    tasks.check_ledger()

    run = ledger_check_record()
    assert not run.ok and run.violation_count >= 1
    assert any(str(payout.pk) in line for line in run.violations)
    assert moved.done() == {"ok": 1}
    assert moved_bad.done() == {"bad": 2}


def test_a_queues_oldest_message_says_how_long_it_has_waited() -> None:
    redis = Redis.from_url(celery_app.conf.broker_url)
    redis.delete("webhooks")
    try:
        tasks.prune_events.delay()  # routed to `webhooks`; no worker consumes it here
        [webhooks] = [q for q in queue_states() or [] if q.name == "webhooks"]
        assert webhooks.messages == 1
        assert 0 <= webhooks.oldest_seconds < 5
        message = json.loads(redis.lindex("webhooks", -1) or b"{}")
        assert isinstance(message["headers"][PUBLISHED_AT_HEADER], float)
    finally:
        redis.delete("webhooks")


@pytest.mark.django_db
def test_each_request_is_counted_by_method_route_name_and_status_never_by_path(api: APIClient) -> None:
    moved = Moved(
        listed=("http_requests_total", {"method": "GET", "view": "payout-list", "status": "200"}),
        unmatched=("http_requests_total", {"method": "GET", "view": "<unmatched>", "status": "404"}),
        odd_method=("http_requests_total", {"method": "<other>", "view": "payout-list"}),
        timed=("http_request_duration_seconds_count", {"method": "GET", "view": "payout-list"}),
    )

    api.get("/api/payouts/")
    api.get("/nowhere/12345/")  # no route at all (under /api/ the catch-all has one)
    api.generic("BREW", "/api/payouts/")

    assert moved.done() == {"listed": 1, "unmatched": 1, "odd_method": 1, "timed": 1}
    paths = {s.labels.get("view") for f in collected() for s in f.samples if s.name == "http_requests_total"}
    assert not any("/" in (view or "") for view in paths)


@pytest.mark.django_db(transaction=True)
def test_a_counter_that_fails_never_fails_the_transition_it_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)

    def broken(amount: float = 1) -> None:
        raise OSError("no space left for the metrics file")

    child = TRANSITIONS.labels(from_status="submitted", to_status="paid", actor="bank")
    monkeypatch.setattr(child, "inc", broken)

    result = payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)  # commits

    assert result.changed
    assert Payout.objects.get(pk=payout.pk).status == S.PAID
