"""Read-only views of the simulated bank's books for an operator. Changes go through the services."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from fake_bank.models import (
    BankPayout,
    BankPolicy,
    IdempotencyRecord,
    IncomingTransfer,
    Webhook,
    WebhookAttempt,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WebhookInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Webhook
    fields = ("type", "operation_id", "message_id", "dropped", "delivery_count", "delivered_at", "failed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WebhookAttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WebhookAttempt
    fields = ("delivery", "attempt", "tampered", "status_code", "error", "at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BankPayout)
class BankPayoutAdmin(ReadOnlyAdmin):
    list_display = ["id", "reference", "status", "amount", "currency", "failure_code", "created_at"]
    list_filter = ["status", "currency", "failure_code"]
    search_fields = ["id", "reference"]
    date_hierarchy = "created_at"
    inlines = [WebhookInline]


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = [
        "operation_id",
        "type",
        "payout",
        "dropped",
        "delivery_count",
        "delivered_at",
        "failed_at",
        "created_at",
    ]
    list_filter = ["type", "dropped"]
    search_fields = ["operation_id", "message_id", "payout__id", "payout__reference"]
    inlines = [WebhookAttemptInline]


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = ["webhook", "delivery", "attempt", "tampered", "status_code", "error", "at"]
    list_filter = ["tampered", "status_code"]
    search_fields = ["webhook__operation_id"]


@admin.register(IncomingTransfer)
class IncomingTransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "payer_inn", "amount", "currency", "document_number", "document_date", "created_at"]
    search_fields = ["id", "payer_inn", "document_number"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["key", "request_path", "response_status", "created_at"]
    search_fields = ["key"]


@admin.register(BankPolicy)
class BankPolicyAdmin(ReadOnlyAdmin):
    list_display = ["outcome", "failure_code", "execution_delay_seconds", "updated_at"]
