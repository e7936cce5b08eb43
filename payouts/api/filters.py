from datetime import UTC
from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request
from rest_framework.views import APIView

from payouts.models import Payout, PayoutStatus


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC: Python accepts offsets up to 24 hours, PostgreSQL only
    up to 15:59, so `+16:00` would otherwise reach the database and fail there."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value is not None:
            value = value.astimezone(UTC)
        filtered: QuerySet[Any] = super().filter(qs, value)
        return filtered


class PayoutFilter(django_filters.FilterSet):
    """`?status=paid&status=failed&currency=RUB&created_after=...&amount_min=10`"""

    # `distinct=False`: one status per row, so no duplicates to remove; django-filter's default made
    # the list a SELECT DISTINCT over every column.
    status = django_filters.MultipleChoiceFilter(choices=PayoutStatus.choices, distinct=False)
    currency = django_filters.CharFilter(field_name="currency")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    amount_min = django_filters.NumberFilter(field_name="amount", lookup_expr="gte")
    amount_max = django_filters.NumberFilter(field_name="amount", lookup_expr="lte")
    batch = django_filters.UUIDFilter(field_name="batch_id", help_text="The items of a batch.")
    reference = django_filters.CharFilter(field_name="reference", help_text="A batch item's reference.")

    class Meta:
        model = Payout
        fields: list[Any] = []


class PayoutFilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the query names none of the filters: building the
    FilterSet and its form was a quarter of an unfiltered list page's time. With any filter named,
    the FilterSet validates and applies them all as before."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        if not any(name in request.query_params for name in PayoutFilter.base_filters):
            return queryset
        filtered: QuerySet[Any] = super().filter_queryset(request, queryset, view)
        return filtered
