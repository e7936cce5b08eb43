"""`process_payout` and `process_payouts` against a respx bank: submitted, refused, retried, run twice."""

from typing import Any
from unittest import mock

import httpx
import pytest
from celery.exceptions import Retry

from payouts import tasks
from payouts.models import Actor, Payout, PayoutEvent, PayoutStatus
from payouts.transitions import payout_transition
from tests.payouts.bank_doubles import bank_payout_json
from tests.payouts.factories import PayoutFactory

S = PayoutStatus


def run_task(payout: Payout) -> None:
    tasks.process_payout.apply(args=[str(payout.pk)], throw=True)


def statuses(payout: Payout) -> list[tuple[str, str, str]]:
    return [(e.from_status, e.to_status, e.actor) for e in PayoutEvent.objects.filter(payout=payout)]


@pytest.mark.django_db
def test_process_payout_submits_and_stores_bank_reference(bank_api: Any) -> None:
    payout = PayoutFactory()
    route = bank_api.post("/payouts").respond(202, json=bank_payout_json(payout, bank_id="bp_42"))

    run_task(payout)

    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert payout.bank_reference == "bp_42"
    assert statuses(payout) == [("new", "processing", "worker"), ("processing", "submitted", "worker")]
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == str(payout.pk)
    assert request.headers["Authorization"] == "Bearer dev-bank-token"


@pytest.mark.django_db
def test_process_payout_refused_by_bank_fails_with_its_code(bank_api: Any) -> None:
    payout = PayoutFactory()
    bank_api.post("/payouts").respond(
        422, json={"error": {"code": "invalid_account", "message": "No such account"}}
    )

    run_task(payout)

    payout.refresh_from_db()
    assert payout.status == S.FAILED
    assert payout.failure_code == "invalid_account"
    assert payout.failure_reason == "No such account"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "7"}), httpx.ConnectTimeout("slow")],
    ids=["503", "429", "timeout"],
)
def test_process_payout_transient_error_retries_and_stays_processing(bank_api: Any, answer: Any) -> None:
    payout = PayoutFactory()
    bank_api.post("/payouts").mock(side_effect=[answer])

    with mock.patch.object(tasks.process_payout, "retry", side_effect=Retry()) as retry, pytest.raises(Retry):
        run_task(payout)

    payout.refresh_from_db()
    assert payout.status == S.PROCESSING
    countdown = retry.call_args.kwargs["countdown"]
    assert countdown > 0
    if isinstance(answer, httpx.Response) and answer.status_code == 429:
        assert countdown >= 0.5  # the test settings cap; Retry-After is a floor below the cap


@pytest.mark.django_db
def test_process_payout_after_retries_run_out_leaves_payout_processing(bank_api: Any, settings: Any) -> None:
    settings.BANK_SUBMIT_MAX_RETRIES = 2
    payout = PayoutFactory()
    route = bank_api.post("/payouts").respond(503)

    tasks.process_payout.apply(args=[str(payout.pk)])

    payout.refresh_from_db()
    assert route.call_count == 3  # the first try and two retries, all under one idempotency key
    assert {c.request.headers["Idempotency-Key"] for c in route.calls} == {str(payout.pk)}
    assert payout.status == S.PROCESSING  # never failed blindly: the reconciler asks the bank


@pytest.mark.django_db
def test_process_payout_twice_is_harmless(bank_api: Any) -> None:
    payout = PayoutFactory()
    route = bank_api.post("/payouts").respond(202, json=bank_payout_json(payout))

    run_task(payout)
    run_task(payout)

    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert route.call_count == 1
    assert len(statuses(payout)) == 2


@pytest.mark.django_db
def test_process_payout_redelivered_while_processing_resubmits_under_same_key(bank_api: Any) -> None:
    # given a worker that died after `new -> processing` (late ack redelivers the task)
    payout = PayoutFactory(status=S.PROCESSING)
    route = bank_api.post("/payouts").respond(202, json=bank_payout_json(payout))

    run_task(payout)

    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert route.calls.last.request.headers["Idempotency-Key"] == str(payout.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.CANCELED, S.PAID, S.FAILED, S.SUBMITTED])
def test_process_payout_leaves_a_payout_that_moved_on(bank_api: Any, status: S) -> None:
    payout = PayoutFactory(status=status)
    route = bank_api.post("/payouts").respond(500)

    run_task(payout)

    payout.refresh_from_db()
    assert payout.status == status
    assert route.call_count == 0


@pytest.mark.django_db
def test_process_payout_keeps_the_webhooks_result_when_it_outran_the_task(bank_api: Any) -> None:
    # given the bank's `paid` webhook was applied while our submit call was still in flight
    payout = PayoutFactory()

    def bank_pays_before_answering(request: httpx.Request) -> httpx.Response:
        payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK, bank_reference="bp_1")
        return httpx.Response(202, json=bank_payout_json(payout))

    bank_api.post("/payouts").mock(side_effect=bank_pays_before_answering)

    run_task(payout)

    payout.refresh_from_db()
    assert payout.status == S.PAID
    assert payout.bank_reference == "bp_1"


def test_retry_delay_grows_is_capped_and_honours_retry_after(settings: Any) -> None:
    settings.BANK_SUBMIT_RETRY_BASE_SECONDS = 2.0
    settings.BANK_SUBMIT_RETRY_MAX_SECONDS = 60.0
    assert 1.0 <= tasks.retry_delay(attempt=0, retry_after=None) <= 2.0
    assert 16.0 <= tasks.retry_delay(attempt=4, retry_after=None) <= 32.0
    assert tasks.retry_delay(attempt=20, retry_after=None) <= 60.0
    assert tasks.retry_delay(attempt=0, retry_after=30) == 30
    assert tasks.retry_delay(attempt=0, retry_after=3600) == 60.0


@pytest.mark.django_db
def test_process_payouts_submits_each_payout_of_the_chunk(bank_api: Any) -> None:
    payouts = [PayoutFactory() for _ in range(3)]
    bank_api.post("/payouts").mock(
        side_effect=[
            httpx.Response(202, json=bank_payout_json(p, bank_id=f"bp_{i}")) for i, p in enumerate(payouts)
        ]
    )

    tasks.process_payouts.apply(args=[[str(p.pk) for p in payouts]], throw=True)

    assert [Payout.objects.get(pk=p.pk).bank_reference for p in payouts] == ["bp_0", "bp_1", "bp_2"]


@pytest.mark.django_db
def test_process_payouts_hands_the_rest_of_the_chunk_to_retries_at_the_first_transient_error(
    bank_api: Any, settings: Any
) -> None:
    # given a chunk of three where the bank answers the first and then is down
    payouts = [PayoutFactory() for _ in range(3)]
    route = bank_api.post("/payouts").mock(
        side_effect=[
            httpx.Response(202, json=bank_payout_json(payouts[0], bank_id="bp_0")),
            httpx.Response(503),
        ]
    )

    with mock.patch.object(tasks.process_payout, "apply_async") as retry_later:
        tasks.process_payouts.apply(args=[[str(p.pk) for p in payouts]], throw=True)

    # then: one call for the failing payout (no timeout per payout), and both left retry with a backoff
    assert route.call_count == 2
    assert Payout.objects.get(pk=payouts[0].pk).status == S.SUBMITTED
    assert Payout.objects.get(pk=payouts[1].pk).status == S.PROCESSING
    assert Payout.objects.get(pk=payouts[2].pk).status == S.NEW
    handed = [(call.args[0], call.kwargs["retries"]) for call in retry_later.call_args_list]
    assert handed == [((str(payouts[1].pk),), 1), ((str(payouts[2].pk),), 1)]
    assert all(
        0 < call.kwargs["countdown"] <= settings.BANK_SUBMIT_RETRY_MAX_SECONDS
        for call in retry_later.call_args_list
    )


@pytest.mark.django_db
def test_a_refusal_arriving_after_the_payout_moved_on_does_not_fail_it(bank_api: Any) -> None:
    # given the bank's refusal of our submit arrives only after the reconciler found the payout at the
    # bank and moved it to `submitted` (the refusal was for a stale retry)
    payout = PayoutFactory()

    def refuse_after_the_reconciler_moved_it(request: httpx.Request) -> httpx.Response:
        payout_transition(
            payout_id=payout.pk, to_status=S.SUBMITTED, actor=Actor.RECONCILER, bank_reference="bp_1"
        )
        return httpx.Response(422, json={"error": {"code": "invalid_account", "message": "late"}})

    bank_api.post("/payouts").mock(side_effect=refuse_after_the_reconciler_moved_it)

    run_task(payout)

    # then it stays where the reconciler put it, its hold kept
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert statuses(payout)[-1] == ("processing", "submitted", "reconciler")


@pytest.mark.django_db
def test_the_bank_accepting_a_payout_we_released_is_an_error_for_an_operator(
    bank_api: Any, caplog: Any
) -> None:
    # given an operator failed the payout (by force) while our submission was on its way
    payout = PayoutFactory()

    def accept_after_the_release(request: httpx.Request) -> httpx.Response:
        payout_transition(payout_id=payout.pk, to_status=S.FAILED, actor=Actor.OPERATOR, reason="forced")
        return httpx.Response(202, json=bank_payout_json(payout, bank_id="bp_1"))

    bank_api.post("/payouts").mock(side_effect=accept_after_the_release)

    run_task(payout)

    payout.refresh_from_db()
    assert payout.status == S.FAILED
    assert [r.levelname for r in caplog.records if "accepted_after_release" in r.getMessage()] == ["ERROR"]
