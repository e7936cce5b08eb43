"""A stateful property test of the one transition function: random sequences of creates (through the
real `payout_create`, which places the hold) and of `payout_transition` requests from any actor, on
a few payouts of an organisation funded in two currencies, against the real database.

After every step the database must agree with a model kept here: each payout's status moved only
along `ALLOWED_TRANSITIONS` (a refused request changed nothing, the same target is a no-op, a final
status never changes), its events are that path, and the ledger holds exactly what the statuses
say: the hold placed at create, posted at `paid`, voided at `failed` or `canceled`."""

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from django.db import transaction
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from payouts.errors import InsufficientFunds, InvalidTransition
from payouts.ledger.check import ledger_check
from payouts.models import (
    AccountKind,
    Actor,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    Payout,
    PayoutEvent,
    PayoutStatus,
)
from payouts.services import PayoutRequest, organization_create, payout_create
from payouts.transitions import ALLOWED_TRANSITIONS, TransitionResult, payout_transition
from tests.payouts.factories import VALID_ACCOUNT, fund

S = PayoutStatus
FINAL = {S.PAID, S.FAILED, S.CANCELED}
IN_FLIGHT = {S.PROCESSING, S.SUBMITTED}
HELD = {S.NEW, *IN_FLIGHT}
# What each status leaves of the payout's hold: nothing resolved yet, posted, or voided.
RESOLUTION = {
    S.NEW: None,
    S.PROCESSING: None,
    S.SUBMITTED: None,
    S.PAID: EntryKind.POST_PENDING,
    S.FAILED: EntryKind.VOID_PENDING,
    S.CANCELED: EntryKind.VOID_PENDING,
}
FUNDED = {"RUB": Decimal("1000.00"), "USD": Decimal("500.00")}
# A few payouts, so that the steps go to moving them rather than to creating more.
PAYOUTS_PER_EXAMPLE = 3

# Up to 600.00, often above 300.00: a second or third create in a currency is often refused.
amounts = (st.integers(min_value=1, max_value=60000) | st.integers(min_value=30000, max_value=60000)).map(
    lambda cents: Decimal(cents).scaleb(-2)
)
statuses = st.sampled_from(list(S))


@dataclass(frozen=True)
class TransitionRequest:
    """One call of `payout_transition`, as any of its callers might make it."""

    to_status: S
    actor: Actor
    only_from: frozenset[S] | None
    bank_reference: str
    failure_code: str

    def send(self, payout_id: UUID) -> TransitionResult:
        return payout_transition(
            payout_id=payout_id,
            to_status=self.to_status,
            actor=self.actor,
            reason=f"{self.actor} asks for {self.to_status}",
            failure_code=self.failure_code,
            bank_reference=self.bank_reference,
            only_from=self.only_from,
        )


def transition_requests(
    to_status: st.SearchStrategy[S], only_from: st.SearchStrategy[frozenset[S] | None]
) -> st.SearchStrategy[TransitionRequest]:
    return st.builds(
        TransitionRequest,
        to_status=to_status,
        actor=st.sampled_from(list(Actor)),
        only_from=only_from,
        bank_reference=st.sampled_from(["", "bp_first", "bp_second"]),
        failure_code=st.sampled_from(["", "declined"]),
    )


class PayoutLifecycle(RuleBasedStateMachine):
    """One example: a fresh organisation funded in RUB and USD, in a savepoint rolled back at its
    end, so every example starts from an empty ledger and `ledger_check` sees only its own rows."""

    payouts = Bundle("payouts")

    def __init__(self) -> None:
        super().__init__()
        self._example = transaction.atomic()
        self._example.__enter__()
        self.organization, _ = organization_create(inn="7707083893", name="Lifecycle LLC")
        for currency, amount in FUNDED.items():
            fund(self.organization, amount, currency)
        self.keys = itertools.count()
        # The model: what each payout must be, and what it was asked with.
        self.status: dict[UUID, S] = {}
        self.path: dict[UUID, list[S]] = {}
        self.amount: dict[UUID, Decimal] = {}
        self.currency: dict[UUID, str] = {}
        self.bank_reference: dict[UUID, str] = {}
        self.failure_code: dict[UUID, str] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    # --- rules -------------------------------------------------------------------------------------

    @precondition(lambda self: len(self.status) < PAYOUTS_PER_EXAMPLE)
    @rule(target=payouts, amount=amounts, currency=st.sampled_from(sorted(FUNDED)))
    def create(self, amount: Decimal, currency: str) -> Any:
        # Every payout's amount is spent or held until it fails or is canceled.
        available = FUNDED[currency] - sum(
            (
                self.amount[pk]
                for pk, status in self.status.items()
                if self.currency[pk] == currency and status not in {S.FAILED, S.CANCELED}
            ),
            Decimal(0),
        )
        key = f"lifecycle-{next(self.keys)}"
        request = PayoutRequest(
            amount=amount, currency=currency, recipient=dict(VALID_ACCOUNT), description="property"
        )
        if amount > available:
            with pytest.raises(InsufficientFunds):
                payout_create(organization=self.organization, idempotency_key=key, request=request)
            assert not Payout.objects.filter(organization=self.organization, idempotency_key=key).exists()
            return multiple()
        payout, created = payout_create(organization=self.organization, idempotency_key=key, request=request)
        assert created
        assert payout.status == S.NEW
        self.status[payout.pk] = S.NEW
        self.path[payout.pk] = [S.NEW]
        self.amount[payout.pk] = amount
        self.currency[payout.pk] = currency
        self.bank_reference[payout.pk] = ""
        self.failure_code[payout.pk] = ""
        return payout.pk

    @rule(payout_id=payouts, request=transition_requests(statuses, st.none() | st.frozensets(statuses)))
    def request_any_status(self, payout_id: UUID, request: TransitionRequest) -> None:
        # Anything, on any payout (a final one too): mostly refused, sometimes a no-op or a move.
        self._apply(payout_id, request)

    @precondition(lambda self: any(status not in FINAL for status in self.status.values()))
    @rule(data=st.data())
    def request_a_next_status(self, data: st.DataObject) -> None:
        # A move the table has, on a payout not yet final: what the worker, the bank and the API ask.
        payout_id = data.draw(
            st.sampled_from(sorted(pk for pk, status in self.status.items() if status not in FINAL))
        )
        current = self.status[payout_id]
        request = data.draw(
            transition_requests(
                st.sampled_from(sorted(ALLOWED_TRANSITIONS[current])),
                st.none() | st.frozensets(statuses).map(lambda only_from: only_from | {current}),
            )
        )
        self._apply(payout_id, request)

    @precondition(lambda self: any(status in FINAL for status in self.status.values()))
    @rule(data=st.data())
    def request_a_way_out_of_a_final_status(self, data: st.DataObject) -> None:
        # A late webhook, a stale worker, an operator's retry: anything but the status it already has.
        payout_id = data.draw(
            st.sampled_from(sorted(pk for pk, status in self.status.items() if status in FINAL))
        )
        current = self.status[payout_id]
        request = data.draw(
            transition_requests(
                st.sampled_from(sorted(set(S) - {current})),
                st.none() | st.frozensets(statuses).map(lambda only_from: only_from | {current}),
            )
        )
        self._apply(payout_id, request)

    def _apply(self, payout_id: UUID, request: TransitionRequest) -> None:
        """Ask `payout_transition` for REQUEST and hold its outcome to the table: the model predicts
        it from the payout's status alone, whichever rule made the request."""
        current, target = self.status[payout_id], request.to_status
        before = Payout.objects.values().get(pk=payout_id)
        allowed = target in ALLOWED_TRANSITIONS[current] and (
            request.only_from is None or current in request.only_from
        )

        if target != current and not allowed:
            # a move the table (or the caller's `only_from`) forbids: a typed error, nothing changed
            with pytest.raises(InvalidTransition) as refused:
                request.send(payout_id)
            assert (refused.value.current, refused.value.requested) == (current, target)
            assert Payout.objects.values().get(pk=payout_id) == before
            return

        result = request.send(payout_id)
        assert (result.changed, result.previous_status) == (target != current, current)
        if request.bank_reference and not self.bank_reference[payout_id]:
            self.bank_reference[payout_id] = request.bank_reference
        if target == current:
            # the same status again: a no-op, at most recording a first bank reference
            after = Payout.objects.values().get(pk=payout_id)
            if after["bank_reference"] == before["bank_reference"]:
                assert after == before
            return
        assert current not in FINAL
        self.status[payout_id] = target
        self.path[payout_id].append(target)
        if target == S.FAILED:
            self.failure_code[payout_id] = request.failure_code or "unknown"

    # --- invariants ----------------------------------------------------------------------------------

    @invariant()
    def payouts_are_where_the_model_put_them(self) -> None:
        payouts = {payout.pk: payout for payout in Payout.objects.filter(organization=self.organization)}
        assert set(payouts) == set(self.status)
        for pk, payout in payouts.items():
            status = self.status[pk]
            assert payout.status == status
            assert payout.amount == self.amount[pk]
            assert payout.bank_reference == self.bank_reference[pk]
            assert payout.failure_code == self.failure_code[pk]
            # a milestone for every status reached, none for the others
            for milestone in set(S) - {S.NEW}:
                assert (getattr(payout, f"{milestone}_at") is not None) == (milestone in self.path[pk])
            # the reconciler looks at a payout in flight, nobody at a final one
            if status in IN_FLIGHT:
                assert payout.next_check_at is not None
            if status in FINAL:
                assert payout.next_check_at is None

    @invariant()
    def events_are_a_path_through_the_table(self) -> None:
        events: dict[UUID, list[tuple[str, str]]] = {pk: [] for pk in self.status}
        for payout_id, from_status, to_status in PayoutEvent.objects.filter(
            payout__organization=self.organization
        ).values_list("payout_id", "from_status", "to_status"):  # oldest first (the model's order)
            events[payout_id].append((from_status, to_status))
        for pk, path in self.path.items():
            assert events[pk] == list(zip(["", *path[:-1]], path, strict=True))
            assert all(b in ALLOWED_TRANSITIONS[S(a)] for a, b in events[pk][1:])

    @invariant()
    def the_ledger_holds_what_the_statuses_say(self) -> None:
        assert ledger_check().violations == []
        accounts = {
            account.currency: account
            for account in LedgerAccount.objects.filter(
                kind=AccountKind.ORGANIZATION, organization=self.organization
            )
        }
        for currency, funded in FUNDED.items():
            mine = [pk for pk in self.status if self.currency[pk] == currency]
            held = sum((self.amount[pk] for pk in mine if self.status[pk] in HELD), Decimal(0))
            paid = sum((self.amount[pk] for pk in mine if self.status[pk] == S.PAID), Decimal(0))
            account = accounts[currency]
            assert (account.credits_posted, account.debits_posted, account.debits_pending) == (
                funded,
                paid,
                held,
            )
            assert account.available == funded - paid - held
        # each payout: one hold of its amount, resolved once in the way its status says, or not yet
        entries: dict[UUID, list[LedgerEntry]] = {pk: [] for pk in self.status}
        for entry in LedgerEntry.objects.filter(
            organization=self.organization, payout__isnull=False
        ).order_by("id"):
            assert entry.payout_id is not None
            entries[entry.payout_id].append(entry)
        for pk, status in self.status.items():
            hold, *resolutions = entries[pk]
            assert (hold.kind, hold.amount, hold.currency) == (
                EntryKind.PENDING,
                self.amount[pk],
                self.currency[pk],
            )
            expected = RESOLUTION[status]
            assert [(e.kind, e.pending_entry_id, e.amount) for e in resolutions] == (
                [] if expected is None else [(expected, hold.pk, hold.amount)]
            )


@pytest.mark.django_db
def test_random_transition_sequences_keep_the_table_and_the_ledger() -> None:
    run_state_machine_as_test(
        PayoutLifecycle,
        settings=settings(max_examples=30, stateful_step_count=15, deadline=None, database=None),
    )
