from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class NewestFirstCursorPagination(CursorPagination):
    """Cursor pagination keeps pages stable while new rows arrive (they land before the cursor)."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        # DRF decodes the cursor's position but does not check it: a crafted one reaches the query.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError):
            raise NotFound(self.invalid_cursor_message) from None
