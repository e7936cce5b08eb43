from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from payouts.models import BankWebhookEvent, Organization, OrganizationAPIKey, Payout, PayoutEvent


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["name", "inn", "default_currency", "created_at"]
    search_fields = ["name", "inn"]


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "organization")  # type: ignore[assignment]


class PayoutEventInline(admin.TabularInline[PayoutEvent, Payout]):
    model = PayoutEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "reason", "created_at"]

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin[Payout]):
    """Read-only: operators change a status through the API (PATCH), which goes through the one
    transition function and leaves an event."""

    list_display = ["id", "organization", "amount", "currency", "status", "created_at", "hidden_at"]
    list_filter = ["status", "currency"]
    search_fields = ["id", "bank_reference", "idempotency_key", "organization__inn"]
    inlines = [PayoutEventInline]

    def get_readonly_fields(self, request: object, obj: Payout | None = None) -> list[str]:
        return [field.name for field in Payout._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(BankWebhookEvent)
class BankWebhookEventAdmin(admin.ModelAdmin[BankWebhookEvent]):
    """Every bank operation we processed. Filter on outcome `anomaly` for those that need a look."""

    list_display = ["received_at", "event_type", "operation_id", "outcome", "anomaly", "payout"]
    list_filter = ["outcome", "event_type"]
    search_fields = ["operation_id", "webhook_id", "payout__id"]

    def get_readonly_fields(self, request: object, obj: BankWebhookEvent | None = None) -> list[str]:
        return [field.name for field in BankWebhookEvent._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
