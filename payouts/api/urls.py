from django.urls import path

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
]
