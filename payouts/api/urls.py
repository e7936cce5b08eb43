from django.urls import path

from payouts.api.views import PayoutDetailApi, PayoutListCreateApi

urlpatterns = [
    path("payouts/", PayoutListCreateApi.as_view(), name="payout-list"),
    path("payouts/<uuid:payout_id>/", PayoutDetailApi.as_view(), name="payout-detail"),
]
