from django.urls import path, re_path

from payouts.api.errors import not_found_view
from payouts.api.organizations import BalanceApi, BalanceHistoryApi
from payouts.api.views import PayoutDetailApi, PayoutListCreateApi
from payouts.api.webhooks import bank_webhook

urlpatterns = [
    path("payouts/", PayoutListCreateApi.as_view(), name="payout-list"),
    path("payouts/<uuid:payout_id>/", PayoutDetailApi.as_view(), name="payout-detail"),
    path("organizations/<str:inn>/balance/", BalanceApi.as_view(), name="organization-balance"),
    path(
        "organizations/<str:inn>/balance/history/",
        BalanceHistoryApi.as_view(),
        name="organization-balance-history",
    ),
    path("webhooks/bank/", bank_webhook, name="bank-webhook"),
    # Anything else under /api/ (a payout id that is not a UUID, a route that does not exist) is the
    # envelope's 404, in development too (where Django would show its HTML page).
    re_path(r"", not_found_view, name="api-not-found"),
]
