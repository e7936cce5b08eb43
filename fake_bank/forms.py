"""The simulator page's forms: they parse what a person typed; the services decide what it means."""

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from fake_bank.currencies import SUPPORTED_CURRENCIES
from fake_bank.models import PolicyOutcomeChoice
from fake_bank.outcomes import FAILURE_REASONS

# Every currency the bank holds has two decimal places (kopecks, cents, pence, fen).
MINOR_UNITS_PER_MAJOR = 100
MAX_EXECUTION_DELAY_SECONDS = 3600

FAILURE_CODE_CHOICES = [(code, f"{code}: {reason}") for code, reason in FAILURE_REASONS.items()]
CURRENCY_CHOICES = [(code, code) for code in sorted(SUPPORTED_CURRENCIES)]


class PayoutFailForm(forms.Form):
    failure_code = forms.ChoiceField(label="Failure code", choices=FAILURE_CODE_CHOICES)


class PolicyForm(forms.Form):
    """What the bank does with new payouts (those without a magic account ending)."""

    outcome = forms.ChoiceField(
        label="New payouts are",
        choices=[
            (PolicyOutcomeChoice.PAID, "paid automatically"),
            (PolicyOutcomeChoice.FAILED, "failed automatically, with the code below"),
            (PolicyOutcomeChoice.MANUAL, "left for a person to pay, fail or cancel here"),
        ],
        widget=forms.RadioSelect,
    )
    failure_code = forms.ChoiceField(
        label="Failure code (when failing automatically)",
        choices=FAILURE_CODE_CHOICES,
        initial="declined",
    )
    execution_delay_seconds = forms.FloatField(
        label="Processing delay, seconds",
        min_value=0,
        max_value=MAX_EXECUTION_DELAY_SECONDS,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "policy-%s")
        super().__init__(*args, **kwargs)

    def chosen_failure_code(self) -> str | None:
        """The failure code, which only goes with the outcome ``failed`` (the select always has one)."""
        if self.cleaned_data["outcome"] != PolicyOutcomeChoice.FAILED:
            return None
        code: str = self.cleaned_data["failure_code"]
        return code


class IncomingTransferForm(forms.Form):
    payer_inn = forms.RegexField(
        label="To INN (10 or 12 digits)",
        regex=r"^([0-9]{10}|[0-9]{12})$",
        max_length=12,
        error_messages={"invalid": "An INN is 10 or 12 digits."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    amount = forms.DecimalField(
        label="Amount",
        min_value=Decimal("0.01"),
        max_digits=18,
        decimal_places=2,
        help_text="In major units, e.g. 1500.00",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_CHOICES, initial="RUB")
    document_number = forms.CharField(label="Document number", max_length=64)
    document_date = forms.DateField(label="Document date", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "transfer-%s")
        super().__init__(*args, **kwargs)
        self.fields["document_date"].initial = timezone.localdate

    def amount_minor(self) -> int:
        """The amount in integer minor units (the decimal places are already limited to two)."""
        amount: Decimal = self.cleaned_data["amount"]
        return int(amount * MINOR_UNITS_PER_MAJOR)
