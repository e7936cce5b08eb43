"""An organisation's balances and the ledger entries behind them."""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from payouts import selectors
from payouts.api.auth import caller_organization
from payouts.api.errors import documented_errors
from payouts.api.pagination import NewestFirstCursorPagination
from payouts.models import EntryKind, LedgerEntry, Organization

_ERRORS = documented_errors(not_found="No such organisation for this caller.")
INN_PARAMETER = OpenApiParameter(
    "inn",
    type={"type": "string", "pattern": "^([0-9]{10}|[0-9]{12})$"},
    location=OpenApiParameter.PATH,
    description="The organisation's INN (10 digits; 12 for a sole trader). A caller sees only its own.",
    # `make seed`'s demo organisation (`manage.py seed_demo`).
    examples=[OpenApiExample("Demo LLC", value="7707083893")],
)
# What a ledger entry meant for the payout that caused it.
PAYOUT_EVENT_NAMES = {
    EntryKind.PENDING: "held",
    EntryKind.POST_PENDING: "settled",
    EntryKind.VOID_PENDING: "released",
}


class CurrencyBalanceSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    available = serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=True)
    pending = serializers.DecimalField(
        max_digits=20, decimal_places=2, help_text="Held for payouts in flight."
    )
    posted = serializers.DecimalField(
        max_digits=20, decimal_places=2, help_text="Settled credits minus debits."
    )


class BalanceSerializer(serializers.Serializer[Any]):
    inn = serializers.CharField()
    balance = serializers.DecimalField(
        max_digits=20, decimal_places=2, help_text="Available amount in the default currency."
    )
    currency = serializers.CharField(help_text="The organisation's default currency.")
    balances = CurrencyBalanceSerializer(many=True)


class LedgerEntrySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="posted | pending | post_pending | void_pending")
    direction = serializers.SerializerMethodField(
        help_text="`credit` (money in) or `debit` (money out or held)."
    )
    amount = serializers.DecimalField(max_digits=20, decimal_places=2)
    currency = serializers.CharField()
    description = serializers.CharField()
    cause = serializers.SerializerMethodField()

    def get_direction(self, entry: LedgerEntry) -> str:
        return "debit" if entry.debit_account.organization_id == self.context["organization"].pk else "credit"

    def get_cause(self, entry: LedgerEntry) -> dict[str, Any]:
        if entry.payout_id is not None:
            return {
                "type": "payout",
                "payout_id": str(entry.payout_id),
                "event": PAYOUT_EVENT_NAMES[EntryKind(entry.kind)],
            }
        incoming = entry.incoming_transfer
        assert incoming is not None  # every entry is caused by a payout or an incoming transfer
        return {
            "type": "incoming_transfer",
            "operation_id": incoming.operation_id,
            "document_number": incoming.document_number,
            "document_date": incoming.document_date.isoformat(),
            "payer_inn": incoming.payer_inn,
        }


def _organization_or_404(request: Request, inn: str) -> Organization:
    try:
        return selectors.organization_get_visible(organization=caller_organization(request), inn=inn)
    except Organization.DoesNotExist:
        raise exceptions.NotFound("No such organisation.") from None


class BalanceApi(GenericAPIView[Any]):
    serializer_class = BalanceSerializer

    @extend_schema(
        operation_id="organization_balance",
        parameters=[INN_PARAMETER],
        responses={200: BalanceSerializer, **_ERRORS},
    )
    def get(self, request: Request, inn: str) -> Response:
        organization = _organization_or_404(request, inn)
        balances = selectors.balances_of(organization=organization)
        default = next(
            (b.available for b in balances if b.currency == organization.default_currency), Decimal("0")
        )
        data = {
            "inn": organization.inn,
            "balance": default,
            "currency": organization.default_currency,
            "balances": [b.__dict__ for b in balances],
        }
        return Response(BalanceSerializer(data).data)


class BalanceHistoryApi(GenericAPIView[LedgerEntry]):
    queryset = LedgerEntry.objects.none()  # for the schema; the rows come from the selector
    serializer_class = LedgerEntrySerializer
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        operation_id="organization_balance_history",
        parameters=[INN_PARAMETER],
        responses={200: LedgerEntrySerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request, inn: str) -> Response:
        organization = _organization_or_404(request, inn)
        page = self.paginate_queryset(selectors.ledger_entries_of(organization=organization))
        data = LedgerEntrySerializer(page, many=True, context={"organization": organization}).data
        return self.get_paginated_response(data)
