"""The simulator's web page: what the bank received and sent, and buttons that decide for it.

Every view is thin: parse a form, call one service (the same code the API and the magic values
use), flash the result, redirect back. The JSON API lives in ``fake_bank/api.py``.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from fake_bank import bank_payouts, bank_policy, incoming_transfers, selectors, webhooks
from fake_bank.errors import BankError
from fake_bank.forms import MINOR_UNITS_PER_MAJOR, IncomingTransferForm, PayoutFailForm, PolicyForm
from fake_bank.models import (
    BankPayout,
    BankPayoutStatus,
    BankPolicy,
    IncomingTransfer,
    PolicyOutcomeChoice,
    Webhook,
    WebhookAttempt,
)
from fake_bank.outcomes import FAILURE_REASONS

View = Callable[..., HttpResponse]

DEVELOPMENT = "development"
PAYOUTS_SHOWN = 50
TRANSFERS_SHOWN = 20
REFRESH_MILLISECONDS = 1500


def simulator_page(view: View) -> View:
    """Open in development; anywhere else (the simulator switched on in a shared environment) only
    staff may see or drive it: others are sent to the admin login, or refused (403) when signed in.
    """

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if settings.ENVIRONMENT != DEVELOPMENT:
            if not request.user.is_authenticated:
                # After signing in, a form's POST cannot be replayed: come back to the page instead.
                back = request.get_full_path() if request.method == "GET" else reverse("fake_bank:page")
                return redirect_to_login(back, login_url=reverse("admin:login"))
            if not request.user.is_staff:
                raise PermissionDenied("The bank simulator's page is for staff only.")
        return view(request, *args, **kwargs)

    return guarded


# --- What the page shows ---------------------------------------------------------------------


def money_text(amount: int) -> str:
    """Integer minor units as a decimal in major units: ``1000050`` -> ``"10,000.50"``."""
    return f"{Decimal(amount) / MINOR_UNITS_PER_MAJOR:,.2f}"


@dataclass(frozen=True, slots=True)
class WebhookRow:
    webhook: Webhook
    attempts: list[WebhookAttempt]

    @property
    def state(self) -> str:
        """A tampered copy does not count: a dropped webhook stays dropped until it is resent."""
        resent = any(not attempt.tampered for attempt in self.attempts)
        if self.webhook.dropped and not resent:
            return "dropped"
        if self.webhook.delivered_at is not None:
            return "delivered"
        if self.webhook.failed_at is not None:
            return "gave up"
        return "sending"


@dataclass(frozen=True, slots=True)
class PayoutRow:
    payout: BankPayout
    amount: str
    recipient_name: str
    recipient_account: str
    webhooks: list[WebhookRow]

    @property
    def processing(self) -> bool:
        return self.payout.status == BankPayoutStatus.PROCESSING


@dataclass(frozen=True, slots=True)
class TransferRow:
    transfer: IncomingTransfer
    amount: str
    webhooks: list[WebhookRow]


def _webhook_row(webhook: Webhook) -> WebhookRow:
    return WebhookRow(webhook=webhook, attempts=list(webhook.attempts.all()))


def _recipient_account(recipient: dict[str, str]) -> str:
    iban = recipient.get("iban")
    return iban or f"{recipient.get('account_number', '')}, BIC {recipient.get('bic', '')}"


def _payout_row(payout: BankPayout) -> PayoutRow:
    return PayoutRow(
        payout=payout,
        amount=money_text(payout.amount),
        recipient_name=payout.recipient.get("name", ""),
        recipient_account=_recipient_account(payout.recipient),
        webhooks=[_webhook_row(webhook) for webhook in payout.webhooks.all()],
    )


def _policy_text(policy: BankPolicy) -> str:
    delay = f"after {policy.execution_delay_seconds:g} s"
    if policy.outcome == PolicyOutcomeChoice.FAILED:
        return f"failed with {policy.failure_code} {delay}"
    if policy.outcome == PolicyOutcomeChoice.MANUAL:
        return "left for a person to decide on this page"
    return f"paid {delay}"


def _status_filter(request: HttpRequest) -> str | None:
    status = request.GET.get("status", "")
    return status if status in BankPayoutStatus.values else None


def _activity_context(request: HttpRequest) -> dict[str, Any]:
    status = _status_filter(request)
    return {
        "status_filter": status,
        "payouts": [
            _payout_row(payout) for payout in selectors.payout_list(status=status, limit=PAYOUTS_SHOWN)
        ],
        "payouts_shown": PAYOUTS_SHOWN,
        "transfers": [
            TransferRow(
                transfer=transfer,
                amount=money_text(transfer.amount),
                webhooks=[_webhook_row(transfer.webhook)],
            )
            for transfer in selectors.incoming_transfer_list(limit=TRANSFERS_SHOWN)
        ],
        "transfers_shown": TRANSFERS_SHOWN,
        "failure_codes": list(FAILURE_REASONS),
    }


def _page(
    request: HttpRequest,
    *,
    policy_form: PolicyForm | None = None,
    transfer_form: IncomingTransferForm | None = None,
    status: int = 200,
) -> HttpResponse:
    policy = selectors.policy_get()
    if policy_form is None:
        policy_form = PolicyForm(
            initial={
                "outcome": policy.outcome,
                "failure_code": policy.failure_code or "declined",
                "execution_delay_seconds": policy.execution_delay_seconds,
            }
        )
    context = {
        **_activity_context(request),
        "policy": policy,
        "policy_text": _policy_text(policy),
        "policy_form": policy_form,
        "transfer_form": transfer_form or IncomingTransferForm(),
        "statuses": BankPayoutStatus.values,
        "refresh_milliseconds": REFRESH_MILLISECONDS,
    }
    return render(request, "fake_bank/page.html", context, status=status)


@never_cache
@simulator_page
@require_GET
def page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache
@simulator_page
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """The part of the page that changes on its own; the page's script fetches it every second or so."""
    return render(request, "fake_bank/_activity.html", _activity_context(request))


# --- What a person does ----------------------------------------------------------------------


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """Back to the page, keeping the status filter the form was submitted under (read from the
    Referer of a same-site page; nothing else of it is followed, so this is no open redirect)."""
    page_url = reverse("fake_bank:page")
    try:
        referer = urlsplit(request.headers.get("Referer", ""))
    except ValueError:  # not a URL at all (an unclosed "[" of an IPv6 host): the plain page
        return HttpResponseRedirect(page_url)
    status = parse_qs(referer.query).get("status", [""])[0]
    if referer.path == page_url and status in BankPayoutStatus.values:
        return HttpResponseRedirect(f"{page_url}?{urlencode({'status': status})}")
    return HttpResponseRedirect(page_url)


def _act(request: HttpRequest, action: Callable[[], str]) -> HttpResponseRedirect:
    """Run one service call; flash what it did, or the bank's refusal in plain words."""
    try:
        done = action()
    except BankError as exc:
        messages.error(request, f"Refused ({exc.code}): {exc.message}")
    else:
        messages.success(request, done)
    return _back(request)


@simulator_page
@require_POST
def payout_pay(request: HttpRequest, payout_id: str) -> HttpResponse:
    def pay() -> str:
        payout = bank_payouts.bank_payout_pay(payout_id=payout_id)
        return f"Payout {payout.id} is paid; the bank sends payout.paid."

    return _act(request, pay)


@simulator_page
@require_POST
def payout_fail(request: HttpRequest, payout_id: str) -> HttpResponse:
    form = PayoutFailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not failed: choose one of the bank's failure codes.")
        return _back(request)

    def fail() -> str:
        code = form.cleaned_data["failure_code"]
        payout = bank_payouts.bank_payout_fail(payout_id=payout_id, failure_code=code)
        return f"Payout {payout.id} failed with {payout.failure_code}; the bank sends payout.failed."

    return _act(request, fail)


@simulator_page
@require_POST
def payout_cancel(request: HttpRequest, payout_id: str) -> HttpResponse:
    def cancel() -> str:
        payout = bank_payouts.bank_payout_cancel(payout_id=payout_id, repeat_ok=False)
        return f"Payout {payout.id} is canceled; the bank sends payout.canceled."

    return _act(request, cancel)


@simulator_page
@require_POST
def payout_drop_next_webhook(request: HttpRequest, payout_id: str) -> HttpResponse:
    def drop() -> str:
        payout = bank_payouts.bank_payout_drop_next_webhook(payout_id=payout_id)
        return (
            f"The next webhook about payout {payout.id} will be lost; "
            "the service's reconciler has to find the outcome by asking the bank."
        )

    return _act(request, drop)


@simulator_page
@require_POST
def webhook_resend(request: HttpRequest, webhook_id: int) -> HttpResponse:
    def resend() -> str:
        webhook = webhooks.webhook_resend(webhook_id=webhook_id)
        return (
            f"{webhook.type} {webhook.operation_id} is sent again as delivery {webhook.delivery_count} "
            "(same operation id: the service should answer it as a duplicate)."
        )

    return _act(request, resend)


@simulator_page
@require_POST
def webhook_send_tampered(request: HttpRequest, webhook_id: int) -> HttpResponse:
    def send_tampered() -> str:
        webhook = webhooks.webhook_send_tampered(webhook_id=webhook_id)
        return (
            f"A tampered copy of {webhook.type} {webhook.operation_id} is sent as delivery "
            f"{webhook.delivery_count} (its amount changed after signing: the service must refuse it)."
        )

    return _act(request, send_tampered)


@simulator_page
@require_POST
def policy_update(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The policy was not changed: see the form below.")
        return _page(request, policy_form=form, status=400)

    def update() -> str:
        policy = bank_policy.policy_update(
            outcome=form.cleaned_data["outcome"],
            failure_code=form.chosen_failure_code(),
            execution_delay_seconds=form.cleaned_data["execution_delay_seconds"],
        )
        return f"Policy saved: new payouts are {_policy_text(policy)}."

    return _act(request, update)


@simulator_page
@require_POST
def incoming_transfer_create(request: HttpRequest) -> HttpResponse:
    form = IncomingTransferForm(request.POST)
    if not form.is_valid():
        messages.error(request, "No transfer was sent: see the form below.")
        return _page(request, transfer_form=form, status=400)

    def send() -> str:
        transfer = incoming_transfers.incoming_transfer_create(
            payer_inn=form.cleaned_data["payer_inn"],
            amount=form.amount_minor(),
            currency=form.cleaned_data["currency"],
            document_number=form.cleaned_data["document_number"],
            document_date=form.cleaned_data["document_date"],
        )
        return (
            f"Sent {money_text(transfer.amount)} {transfer.currency} to INN {transfer.payer_inn} "
            f"(transfer {transfer.id}); the bank announces it with transfer.incoming."
        )

    return _act(request, send)
