from django.urls import path, re_path

from payouts.api import batches, notifications
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
    path("payout-batches/", batches.PayoutBatchListCreateApi.as_view(), name="payout-batch-list"),
    path(
        "payout-batches/<uuid:batch_id>/", batches.PayoutBatchDetailApi.as_view(), name="payout-batch-detail"
    ),
    path(
        "payout-batches/<uuid:batch_id>/cancel/",
        batches.PayoutBatchCancelApi.as_view(),
        name="payout-batch-cancel",
    ),
    path(
        "payout-batches/<uuid:batch_id>/items.csv",
        batches.PayoutBatchItemsCsvApi.as_view(),
        name="payout-batch-items-csv",
    ),
    path("events/", notifications.EventListApi.as_view(), name="event-list"),
    path("events/<str:event_id>/", notifications.EventDetailApi.as_view(), name="event-detail"),
    path(
        "webhook-endpoints/",
        notifications.WebhookEndpointListCreateApi.as_view(),
        name="webhook-endpoint-list",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/",
        notifications.WebhookEndpointDetailApi.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/rotate-secret/",
        notifications.WebhookEndpointRotateSecretApi.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/deliveries/",
        notifications.WebhookDeliveryListApi.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/deliveries/<int:delivery_id>/retry/",
        notifications.WebhookDeliveryRetryApi.as_view(),
        name="webhook-delivery-retry",
    ),
    # Anything else under /api/ (a payout id that is not a UUID, a route that does not exist) is the
    # envelope's 404, in development too (where Django would show its HTML page).
    re_path(r"", not_found_view, name="api-not-found"),
]
