from typing import Any

import django_filters

from payouts.models import Payout, PayoutStatus


class PayoutFilter(django_filters.FilterSet):
    """`?status=paid&status=failed&currency=RUB&created_after=...&amount_min=10`"""

    # `distinct=False`: one status per row, so no duplicates to remove; django-filter's default made
    # the list a SELECT DISTINCT over every column.
    status = django_filters.MultipleChoiceFilter(choices=PayoutStatus.choices, distinct=False)
    currency = django_filters.CharFilter(field_name="currency")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    amount_min = django_filters.NumberFilter(field_name="amount", lookup_expr="gte")
    amount_max = django_filters.NumberFilter(field_name="amount", lookup_expr="lte")

    class Meta:
        model = Payout
        fields: list[Any] = []
