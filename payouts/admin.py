"""The operators' admin. What the service writes is shown read-only here (payouts change through the
API, the ledger only through its entries); the one thing an operator edits is the organisation of
an unmatched incoming transfer, which credits it once."""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from payouts.bank.reconciliation import stuck_payouts
from payouts.ledger.incoming import incoming_transfer_assign
from payouts.models import (
    BankWebhookEvent,
    IncomingTransfer,
    IncomingTransferStatus,
    LedgerAccount,
    LedgerEntry,
    Organization,
    OrganizationAPIKey,
    Payout,
    PayoutEvent,
)


class ReadOnlyAdminMixin:
    """Shown, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


class StuckFilter(admin.SimpleListFilter):
    """Payouts in flight longer than `STUCK_AFTER_HOURS`: an operator asks the bank about them."""

    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", f"in flight over {settings.STUCK_AFTER_HOURS:g} h")]

    def queryset(self, request: Any, queryset: QuerySet[Payout]) -> QuerySet[Payout]:
        if self.value() == "yes":
            return queryset.filter(pk__in=stuck_payouts().values("pk"))
        return queryset


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["name", "inn", "default_currency", "created_at"]
    search_fields = ["name", "inn"]


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "organization")  # type: ignore[assignment]


class PayoutEventInline(ReadOnlyAdminMixin, admin.TabularInline[PayoutEvent, Payout]):
    model = PayoutEvent
    extra = 0
    readonly_fields = ["from_status", "to_status", "actor", "reason", "created_at"]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Payout]):
    """Read-only: operators change a status through the API (PATCH), which goes through the one
    transition function and leaves an event."""

    list_display = ["id", "organization", "amount", "currency", "status", "created_at", "hidden_at"]
    list_filter = ["status", StuckFilter, "currency"]
    search_fields = ["id", "bank_reference", "idempotency_key", "organization__inn"]
    inlines = [PayoutEventInline]


@admin.register(BankWebhookEvent)
class BankWebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[BankWebhookEvent]):
    """Every bank operation we processed. Filter on outcome `anomaly` for those that need a look."""

    list_display = ["received_at", "event_type", "operation_id", "outcome", "anomaly", "payout"]
    list_filter = ["outcome", "event_type"]
    search_fields = ["operation_id", "webhook_id", "payout__id"]


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LedgerAccount]):
    list_display = [
        "kind",
        "organization",
        "currency",
        "available",
        "credits_posted",
        "debits_posted",
        "debits_pending",
    ]
    list_filter = ["kind", "currency"]
    search_fields = ["organization__inn", "organization__name"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LedgerEntry]):
    """Immutable: entries are only ever inserted, by the ledger service."""

    list_display = [
        "created_at",
        "kind",
        "amount",
        "currency",
        "debit_account",
        "credit_account",
        "payout",
        "description",
    ]
    list_filter = ["kind", "currency"]
    search_fields = ["payout__id", "incoming_transfer__operation_id"]
    list_select_related = ["debit_account__organization", "credit_account__organization"]


@admin.action(description="Credit to the organisation with the payer's INN (now that it exists)")
def credit_by_payer_inn(modeladmin: Any, request: HttpRequest, queryset: Any) -> None:
    credited = 0
    for incoming in queryset.filter(status=IncomingTransferStatus.UNMATCHED):
        organization = Organization.objects.filter(inn=incoming.payer_inn).first()
        if organization is None:
            modeladmin.message_user(
                request, f"No organisation with INN {incoming.payer_inn} yet.", messages.WARNING
            )
            continue
        incoming_transfer_assign(incoming_transfer_id=incoming.pk, organization=organization)
        credited += 1
    modeladmin.message_user(request, f"Credited {credited} transfer(s).")


@admin.register(IncomingTransfer)
class IncomingTransferAdmin(admin.ModelAdmin[IncomingTransfer]):
    """Unmatched transfers are assigned here: choose the organisation and save (credited once), or
    use the action once an organisation with the payer's INN exists."""

    list_display = [
        "received_at",
        "payer_inn",
        "amount",
        "currency",
        "document_number",
        "status",
        "organization",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["payer_inn", "operation_id", "document_number"]
    actions = [credit_by_payer_inn]

    def get_readonly_fields(self, request: object, obj: IncomingTransfer | None = None) -> list[str]:
        fields = [field.name for field in IncomingTransfer._meta.fields]
        if obj is not None and obj.status == IncomingTransferStatus.UNMATCHED:
            fields.remove("organization")
        return fields

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False

    def save_model(self, request: Any, obj: IncomingTransfer, form: Any, change: bool) -> None:
        if obj.organization is not None and obj.status == IncomingTransferStatus.UNMATCHED:
            incoming_transfer_assign(incoming_transfer_id=obj.pk, organization=obj.organization)
