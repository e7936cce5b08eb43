from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from payouts import ops
from payouts.api import health
from payouts.api.metrics import metrics

urlpatterns: list[URLPattern | URLResolver] = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("payouts.api.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("ops/", ops.overview, name="ops-overview"),
]

if settings.FAKE_BANK_ENABLED:
    urlpatterns.append(path("fake-bank/", include("fake_bank.urls")))
if settings.WEBHOOK_INBOX_ENABLED:
    urlpatterns.append(path("dev/webhook-inbox/", include("webhook_inbox.urls")))

handler400 = "payouts.api.errors.bad_request_view"
handler403 = "payouts.api.errors.permission_denied_view"
handler404 = "payouts.api.errors.not_found_view"
handler500 = "payouts.api.errors.server_error_view"
