"""`/ops/`: the operators' overview, for staff (the Django admin's login), refreshing itself."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from payouts.observability.overview import ops_overview

REFRESH_SECONDS = 15


@require_GET
@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    payouts = reverse("admin:payouts_payout_changelist")
    return render(
        request,
        "payouts/ops.html",
        {
            "overview": ops_overview(),
            "refresh_seconds": REFRESH_SECONDS,
            "links": {
                "stuck": f"{payouts}?stuck=yes",
                "processing": f"{payouts}?status__exact=processing",
                "submitted": f"{payouts}?status__exact=submitted",
                "new": f"{payouts}?status__exact=new",
                "anomalies": reverse("admin:payouts_bankwebhookevent_changelist") + "?outcome__exact=anomaly",
            },
        },
    )
