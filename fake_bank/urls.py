"""Mounted at /fake-bank/ by config/urls.py when FAKE_BANK_ENABLED: the page, its actions, and the
JSON API under api/."""

from django.urls import URLPattern, path, re_path

from fake_bank import api, views

app_name = "fake_bank"

urlpatterns: list[URLPattern] = [
    # The page a person drives the bank from; every action is a POST form.
    path("", views.page, name="page"),
    path("activity", views.activity, name="activity"),
    path("policy", views.policy_update, name="page-policy-update"),
    path("incoming-transfers", views.incoming_transfer_create, name="page-incoming-transfer-create"),
    path("payouts/<str:payout_id>/pay", views.payout_pay, name="page-payout-pay"),
    path("payouts/<str:payout_id>/fail", views.payout_fail, name="page-payout-fail"),
    path("payouts/<str:payout_id>/cancel", views.payout_cancel, name="page-payout-cancel"),
    path(
        "payouts/<str:payout_id>/drop-next-webhook",
        views.payout_drop_next_webhook,
        name="page-payout-drop-next-webhook",
    ),
    path("webhooks/<int:webhook_id>/resend", views.webhook_resend, name="page-webhook-resend"),
    path(
        "webhooks/<int:webhook_id>/send-tampered",
        views.webhook_send_tampered,
        name="page-webhook-send-tampered",
    ),
    # The bank's JSON API (docs/bank-api.md), bearer-token auth.
    path("api/payouts", api.payout_submit, name="payout-submit"),
    path("api/payouts/by-reference/<path:reference>", api.payout_by_reference, name="payout-by-reference"),
    path("api/payouts/<str:payout_id>/cancel", api.payout_cancel, name="payout-cancel"),
    path("api/payouts/<str:payout_id>", api.payout_detail, name="payout-detail"),
    path("api/incoming-transfers", api.incoming_transfers_endpoint, name="incoming-transfers"),
    # Anything else under api/ answers in the bank's error envelope, not Django's HTML page.
    re_path(r"^api/", api.not_found, name="api-not-found"),
]
