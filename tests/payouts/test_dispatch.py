"""The dispatcher hands `new` payouts to the workers after their creation committed: each once per
claim, in chunks, oldest first; again only when a claim outlived the re-claim window; never a payout
that has moved on; never one that a worker's transition holds."""

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from celery import Celery
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from payouts import tasks
from payouts.bank.submission import payouts_claim_new
from payouts.dispatch import dispatch_new_payouts
from payouts.models import Payout, PayoutStatus
from tests.concurrency import run_at_once
from tests.payouts.factories import PayoutFactory

S = PayoutStatus


@pytest.fixture
def chunks(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[list[str]]:
    """The chunks `process_payouts` was queued with (chunks of 2, re-claim after 30 s)."""
    settings.DISPATCH_CHUNK_SIZE = 2
    settings.DISPATCH_RECLAIM_SECONDS = 30
    queued: list[list[str]] = []
    monkeypatch.setattr(tasks.process_payouts, "delay", queued.append)
    return queued


@pytest.mark.django_db
def test_new_payouts_are_queued_in_chunks_oldest_first_and_once_per_claim(chunks: list[list[str]]) -> None:
    # given three new payouts, one older than the others, and some that have moved on
    start = timezone.now()
    with time_machine.travel(start - timedelta(seconds=10), tick=False):
        oldest = PayoutFactory(status=S.NEW)
    newer = [PayoutFactory(status=S.NEW) for _ in range(2)]
    for status in (S.PROCESSING, S.SUBMITTED, S.PAID, S.CANCELED):
        PayoutFactory(status=status)

    # when the dispatcher polls twice
    first = dispatch_new_payouts()
    second = dispatch_new_payouts()

    # then: the three are queued once, two to a chunk, the oldest first; the second poll finds none
    assert (first, second) == (3, 0)
    assert [len(chunk) for chunk in chunks] == [2, 1]
    assert chunks[0][0] == str(oldest.pk)
    assert {pid for chunk in chunks for pid in chunk} == {str(p.pk) for p in [oldest, *newer]}


@pytest.mark.django_db
def test_a_claim_still_new_after_the_window_is_queued_again(chunks: list[list[str]]) -> None:
    # given a payout claimed and queued, whose task the broker then lost
    payout = PayoutFactory(status=S.NEW)
    assert dispatch_new_payouts() == 1

    # when the dispatcher polls before and after the re-claim window
    with time_machine.travel(timezone.now() + timedelta(seconds=29), tick=False):
        before = dispatch_new_payouts()
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        after = dispatch_new_payouts()

    # then: queued again only once the window has passed
    assert (before, after) == (0, 1)
    assert chunks == [[str(payout.pk)], [str(payout.pk)]]


@pytest.mark.django_db
def test_a_payout_that_moved_on_after_its_claim_is_not_queued_again(chunks: list[list[str]]) -> None:
    payout = PayoutFactory(status=S.NEW)
    dispatch_new_payouts()
    Payout.objects.filter(pk=payout.pk).update(status=S.PROCESSING)

    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        assert dispatch_new_payouts() == 0
    assert chunks == [[str(payout.pk)]]


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_claim_the_same_payout() -> None:
    payouts = [PayoutFactory(status=S.NEW) for _ in range(40)]

    claimed = run_at_once(lambda _: payouts_claim_new(limit=500, reclaim_after_seconds=30), count=2)

    assert set(claimed[0]).isdisjoint(claimed[1])
    assert set(claimed[0]) | set(claimed[1]) == {p.pk for p in payouts}


@pytest.mark.django_db(transaction=True)
def test_a_payout_whose_row_a_worker_holds_is_skipped_not_waited_for() -> None:
    # given a worker's transition holding one new payout's row lock, in another connection
    held, free = PayoutFactory(status=S.NEW), PayoutFactory(status=S.NEW)
    locked, release = threading.Event(), threading.Event()

    def worker() -> None:
        try:
            with transaction.atomic():
                Payout.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        # when the dispatcher claims
        claimed = payouts_claim_new(limit=500, reclaim_after_seconds=30)
    finally:
        release.set()
        thread.join()

    # then: it took the free one at once and left the held one for a later poll
    assert claimed == [free.pk]
    assert payouts_claim_new(limit=500, reclaim_after_seconds=30) == [held.pk]


@pytest.mark.django_db
def test_with_the_broker_down_a_dispatch_gives_up_within_seconds_and_the_payout_waits(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a new payout, and a broker nothing listens on, published to with the project's bounds
    # (which the project's Celery app has: see test_celery_and_settings)
    payout = PayoutFactory(status=S.NEW)
    settings.DISPATCH_RECLAIM_SECONDS = 30
    dead = Celery("dead-broker", broker="redis://127.0.0.1:1/0", set_as_current=False)
    dead.conf.update(
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        task_publish_retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
    )

    monkeypatch.setattr(tasks.process_payouts, "delay", lambda ids: dead.send_task("x", args=[ids]))

    started = time.monotonic()
    with pytest.raises(OperationalError):
        dispatch_new_payouts()
    waited = time.monotonic() - started

    # then the dispatcher waited a bounded time (the settings' three one-second tries at most), and the
    # payout is still new, claimed again once the re-claim window passes
    assert waited < 5
    Payout.objects.get(pk=payout.pk, status=S.NEW)
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        assert payouts_claim_new(limit=10, reclaim_after_seconds=30) == [payout.pk]
