"""Mounted at /fake-bank/ by config/urls.py when FAKE_BANK_ENABLED; the API lives under api/."""

from django.urls import URLPattern, path, re_path

from fake_bank import api

app_name = "fake_bank"

urlpatterns: list[URLPattern] = [
    # The bank's web page root: a person's console (issue 5).
    path("", api.home, name="home"),
    path("api/payouts", api.payout_submit, name="payout-submit"),
    path("api/payouts/by-reference/<path:reference>", api.payout_by_reference, name="payout-by-reference"),
    path("api/payouts/<str:payout_id>/cancel", api.payout_cancel, name="payout-cancel"),
    path("api/payouts/<str:payout_id>", api.payout_detail, name="payout-detail"),
    path("api/incoming-transfers", api.incoming_transfer_create, name="incoming-transfer-create"),
    # Anything else under api/ answers in the bank's error envelope, not Django's HTML page.
    re_path(r"^api/", api.not_found, name="api-not-found"),
]
