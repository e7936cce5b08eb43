from itertools import product

import pytest

from payouts.errors import InvalidTransition
from payouts.models import Actor, Payout, PayoutEvent, PayoutStatus
from payouts.transitions import ALLOWED_TRANSITIONS, TransitionResult, payout_transition
from tests.concurrency import run_at_once
from tests.payouts.factories import PayoutFactory

S = PayoutStatus
EXPECTED_ALLOWED = {
    (S.NEW, S.PROCESSING),
    (S.NEW, S.CANCELED),
    (S.PROCESSING, S.SUBMITTED),
    (S.PROCESSING, S.PAID),
    (S.PROCESSING, S.FAILED),
    (S.SUBMITTED, S.PAID),
    (S.SUBMITTED, S.FAILED),
    (S.SUBMITTED, S.CANCELED),
}
ALL_PAIRS = [(a, b) for a, b in product(S, S) if a != b]


def test_transition_table_is_exactly_the_documented_state_machine() -> None:
    # given the table as data / when flattened / then it is the README's diagram, nothing more
    flattened = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    assert flattened == EXPECTED_ALLOWED
    assert set(ALLOWED_TRANSITIONS) == set(S)
    assert {status for status, targets in ALLOWED_TRANSITIONS.items() if not targets} == {
        S.PAID,
        S.FAILED,
        S.CANCELED,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_transition_applies_allowed_pairs_and_refuses_the_rest(current: S, target: S) -> None:
    # given a payout in `current`
    payout = PayoutFactory(status=current)
    if (current, target) in EXPECTED_ALLOWED:
        # when it moves to an allowed target
        result = payout_transition(
            payout_id=payout.pk, to_status=target, actor=Actor.WORKER, reason="test", failure_code="declined"
        )
        # then the row, the milestone and the audit event say so
        payout.refresh_from_db()
        assert result.changed is True
        assert result.previous_status == current
        assert payout.status == target
        assert getattr(payout, f"{target}_at") is not None
        event = PayoutEvent.objects.get(payout=payout)
        assert (event.from_status, event.to_status, event.actor, event.reason) == (
            current,
            target,
            "worker",
            "test",
        )
        if target == S.FAILED:
            assert payout.failure_code == "declined"
    else:
        # when it asks for a forbidden target, then a typed error names both statuses and nothing changes
        with pytest.raises(InvalidTransition) as excinfo:
            payout_transition(payout_id=payout.pk, to_status=target, actor=Actor.WORKER)
        assert (excinfo.value.current, excinfo.value.requested) == (current, target)
        payout.refresh_from_db()
        assert payout.status == current
        assert not PayoutEvent.objects.filter(payout=payout).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", list(S))
def test_transition_to_current_status_is_a_noop(status: S) -> None:
    payout = PayoutFactory(status=status)
    result = payout_transition(payout_id=payout.pk, to_status=status, actor=Actor.BANK)
    assert result.changed is False
    assert not PayoutEvent.objects.filter(payout=payout).exists()


@pytest.mark.django_db
def test_transition_records_bank_reference_once() -> None:
    payout = PayoutFactory(status=S.PROCESSING)
    payout_transition(payout_id=payout.pk, to_status=S.SUBMITTED, actor=Actor.WORKER, bank_reference="bp_1")
    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK, bank_reference="bp_other")
    payout.refresh_from_db()
    assert payout.bank_reference == "bp_1"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "targets", [(S.PAID, S.FAILED), (S.CANCELED, S.PAID)], ids=["paid-vs-failed", "cancel-vs-paid"]
)
def test_transition_race_between_threads_has_exactly_one_winner(targets: tuple[S, S]) -> None:
    # given a submitted payout and two threads wanting different final states at the same instant
    payout = PayoutFactory(status=S.SUBMITTED)

    def move(i: int) -> tuple[S, TransitionResult | InvalidTransition]:
        try:
            return targets[i], payout_transition(payout_id=payout.pk, to_status=targets[i], actor=Actor.BANK)
        except InvalidTransition as exc:
            return targets[i], exc

    outcomes = dict(run_at_once(move, len(targets)))

    # then exactly one applied, the loser saw the winner's state, and one event was written
    winners = [t for t, outcome in outcomes.items() if not isinstance(outcome, Exception)]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, InvalidTransition)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert losers[0].current == winners[0]
    assert Payout.objects.get(pk=payout.pk).status == winners[0]
    assert PayoutEvent.objects.filter(payout=payout).count() == 1
