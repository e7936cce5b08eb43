"""The one error envelope: `{"error": {"code", "message", "details"}}` for every error the service
returns, from DRF's exceptions, the domain's typed errors, Django's 404/500 handlers and anything
unexpected."""

import math
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from payouts.api.throttling import anonymous_wait
from payouts.errors import VALIDATION_MESSAGE, DomainError

logger = structlog.get_logger(__name__)

_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def envelope(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def rate_limited(message: str, wait: int) -> JsonResponse:
    """A 429 from a plain Django view (the bank's webhook, `/metrics`), as DRF's throttled answers
    are: the envelope with `retry_after_seconds`, and `Retry-After`."""
    return JsonResponse(
        envelope("rate_limited", message, {"retry_after_seconds": wait}),
        status=429,
        headers={"Retry-After": str(wait)},
    )


class PayloadTooLarge(DomainError):
    """A body over its limit: Django's for the API's bodies, a batch's own, the bank webhook's."""

    code = "payload_too_large"
    http_status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body may be at most {limit} bytes.", details={"max_bytes": limit})


def error_body(exc: DomainError) -> dict[str, Any]:
    return envelope(exc.code, exc.message, exc.details)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, DomainError):
        return Response(error_body(exc), status=exc.http_status)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # No valid credentials: an anonymous request, limited per client IP (DRF checks
        # permissions, and refuses this one, before its throttles would have counted it).
        wait = anonymous_wait(context["request"])
        if wait is not None:
            exc = exceptions.Throttled(wait)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        logger.exception("api.unhandled_error", error=repr(exc))
        return Response(
            envelope("internal_error", "Something went wrong on our side; the request may be retried."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    response = drf_exception_handler(exc, context)
    assert response is not None  # DRF renders every APIException
    code = _CODES.get(type(exc), getattr(exc, "default_code", "error"))
    details: dict[str, Any]
    if isinstance(exc, exceptions.ValidationError):
        message = VALIDATION_MESSAGE
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    else:
        message = str(exc.detail)
        details = {}
    if isinstance(exc, exceptions.Throttled):
        retry_after = math.ceil(getattr(exc, "wait", None) or 1)  # DRF omits the header for a wait of 0
        details = {"retry_after_seconds": retry_after}
        response["Retry-After"] = str(retry_after)
    response.data = envelope(code, message, details)
    return response


# Django's own error views (handler400, 403, 404, 500): the envelope under /api/, Django's pages
# elsewhere (the admin, the simulator's page).


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(envelope("bad_request", "The request could not be read."), status=400)
    return defaults.bad_request(request, exception)


def permission_denied_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(envelope("permission_denied", "Not allowed."), status=403)
    return defaults.permission_denied(request, exception)


@csrf_exempt  # the catch-all API route: a POST to no route is a 404, not Django's CSRF page
def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(envelope("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error_view(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(envelope("internal_error", "Something went wrong on our side."), status=500)
    return defaults.server_error(request)


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `invalid_transition`.")
    message = serializers.CharField(help_text="A sentence for humans.")
    details = serializers.DictField(help_text="Per-field errors or facts about the error.")


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of every error response."""

    error = ErrorDetailSerializer()


# What gunicorn answers itself, before Django (config/gunicorn.py writes it in the envelope): on every
# operation of the schema.
SERVER_LIMIT_RESPONSES = {
    "414": "`uri_too_long`: the request line (path and query) is over the web server's 4094 bytes.",
    "431": "`headers_too_large`: a header, or their number, is over the web server's limits.",
}


def server_limits_documented(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: 414 and 431, in the error envelope, on every operation."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status_code, description in SERVER_LIMIT_RESPONSES.items():
                responses.setdefault(status_code, {"description": description, "content": error})
    return result


# --- What operations document -----------------------------------------------------------------

INVALID_INPUT = OpenApiResponse(ErrorSerializer, description="Invalid input; `details` names the fields.")
# What a request with a body may also get: the parser's refusals (`payouts.api.parsers`).
BODY_ERRORS: dict[int | tuple[int, str], OpenApiResponse] = {
    413: OpenApiResponse(ErrorSerializer, description="`payload_too_large`: the body is over the limit."),
    415: OpenApiResponse(
        ErrorSerializer, description="`unsupported_media_type`: the body is not declared as JSON."
    ),
}


def documented_errors(*, not_found: str) -> dict[int | tuple[int, str], OpenApiResponse]:
    """What any operation may answer: 401, 403, 404 (NOT_FOUND says of what) and 429."""
    return {
        401: OpenApiResponse(ErrorSerializer, description="Missing or invalid credentials."),
        403: OpenApiResponse(ErrorSerializer, description="Authenticated but not allowed."),
        404: OpenApiResponse(ErrorSerializer, description=not_found),
        429: OpenApiResponse(ErrorSerializer, description="Rate limited; see `Retry-After`."),
    }
