"""The events API (`/api/events/`) and the organisation's webhook endpoints with their deliveries
(`/api/webhook-endpoints/`). HTTP only: parse, call one service or selector, render."""

from typing import Any
from uuid import UUID

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from payouts import selectors
from payouts.api.auth import caller_organization
from payouts.api.errors import BODY_ERRORS, INVALID_INPUT, ErrorSerializer, documented_errors
from payouts.api.filters import UtcIsoDateTimeFilter
from payouts.api.pagination import NewestFirstCursorPagination
from payouts.api.serializers import StrictSerializer, TextField
from payouts.models import ALL_EVENTS, Event, EventType, Organization, WebhookDelivery, WebhookEndpoint
from payouts.notifications import delivery, endpoints
from payouts.notifications.events import event_pk, render_event
from payouts.rendering import timestamp

_ERRORS = documented_errors(not_found="Not found for this caller.")
_BODY_ERRORS = {400: INVALID_INPUT, **BODY_ERRORS}


# --- Events ------------------------------------------------------------------------------------


# An event, as the events API shows it and as a webhook message carries it (built inline: a field
# named `data` would hide the serializer's own `data`).
EventSerializer = inline_serializer(
    name="Event",
    fields={
        "id": serializers.CharField(help_text="`evt_` and 32 hex digits; a webhook's `webhook-id`."),
        "type": serializers.ChoiceField(choices=EventType.choices),
        "created_at": serializers.DateTimeField(),
        "organization": serializers.CharField(help_text="The organisation's INN."),
        "data": serializers.DictField(
            help_text=(
                "`object`: the payout as `GET /api/payouts/{id}/` showed it at that moment (without "
                "its `events`), or for `balance.credited` the credit: `id`, `amount`, `currency`, "
                "`payer_inn`, `document_number`, `document_date`, `operation_id`, `received_at`, "
                "`credited_at`."
            )
        ),
    },
)


class EventFilter(django_filters.FilterSet):
    """`?type=payout.paid&type=payout.failed&created_after=...&created_before=...`"""

    type = django_filters.MultipleChoiceFilter(choices=EventType.choices, distinct=False)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields: list[Any] = []


def _render(event: Event) -> dict[str, Any]:
    return render_event(event, inn=event.organization.inn)


class EventListApi(GenericAPIView[Event]):
    serializer_class = type(EventSerializer)
    filterset_class = EventFilter
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self) -> QuerySet[Event]:
        return selectors.events_visible_to(organization=caller_organization(self.request))

    @extend_schema(
        operation_id="events_list",
        description=(
            f"Newest first, kept {settings.EVENT_RETENTION_DAYS} days. An event is written in the "
            "transaction of the change it describes, and never changes."
        ),
        responses={200: type(EventSerializer)(many=True), 400: INVALID_INPUT, **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        return self.get_paginated_response([_render(event) for event in page])


class EventDetailApi(GenericAPIView[Event]):
    serializer_class = type(EventSerializer)

    @extend_schema(operation_id="events_retrieve", responses={200: EventSerializer, **_ERRORS})
    def get(self, request: Request, event_id: str) -> Response:
        pk = event_pk(event_id)
        event = (
            selectors.events_visible_to(organization=caller_organization(request)).filter(pk=pk).first()
            if pk
            else None
        )
        if event is None:
            raise exceptions.NotFound("No such event.")
        return Response(_render(event))


# --- Webhook endpoints -------------------------------------------------------------------------


class EnabledEventsField(serializers.ListField):
    child = TextField(max_length=64)


class WebhookEndpointCreateSerializer(StrictSerializer):
    url = TextField(max_length=2048, help_text="Where to POST: `https://` outside development.")
    enabled_events = EnabledEventsField(
        min_length=1,
        max_length=len(EventType.values) + 1,
        help_text=f'Event types, or `["{ALL_EVENTS}"]` for every type.',
    )
    description = TextField(required=False, allow_blank=True, max_length=500, default="")


class WebhookEndpointUpdateSerializer(StrictSerializer):
    url = TextField(required=False, max_length=2048)
    enabled_events = EnabledEventsField(required=False, min_length=1, max_length=len(EventType.values) + 1)
    description = TextField(required=False, allow_blank=True, max_length=500)
    disabled = serializers.BooleanField(
        required=False, help_text="`false` enables a disabled endpoint again."
    )


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "enabled_events",
            "description",
            "disabled",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The endpoint with its signing secret: only in the answers to its creation and a rotation."""

    secret = serializers.CharField(help_text="`whsec_...`: verify each message's signature with it.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookAttemptSerializer(serializers.Serializer[Any]):
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    error = serializers.CharField()
    response_body = serializers.CharField(help_text="At most the first 2 KB of the answer.")


class WebhookDeliverySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    event_id = serializers.CharField()
    event_type = serializers.ChoiceField(choices=EventType.choices)
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    attempt_log = WebhookAttemptSerializer(many=True)


def render_delivery(sent: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": sent.pk,
        "event_id": sent.event.public_id,
        "event_type": sent.event.type,
        "status": sent.status,
        "attempts": sent.attempts,
        "next_attempt_at": timestamp(sent.next_attempt_at),
        "created_at": timestamp(sent.created_at),
        "last_attempt_at": timestamp(sent.last_attempt_at),
        "attempt_log": [
            {
                "attempted_at": timestamp(attempt.attempted_at),
                "status_code": attempt.status_code,
                "duration_ms": attempt.duration_ms,
                "error": attempt.error,
                "response_body": attempt.response_body,
            }
            for attempt in sent.attempt_log.all()
        ],
    }


def _organization(request: Request) -> Organization:
    organization = caller_organization(request)
    if organization is None:
        raise exceptions.PermissionDenied("Webhook endpoints belong to organisations: use an API key.")
    return organization


def _endpoint_or_404(request: Request, endpoint_id: UUID) -> WebhookEndpoint:
    found = selectors.webhook_endpoints_of(organization=_organization(request)).filter(pk=endpoint_id).first()
    if found is None:
        raise exceptions.NotFound("No such webhook endpoint.")
    return found


class WebhookEndpointListCreateApi(GenericAPIView[WebhookEndpoint]):
    serializer_class = WebhookEndpointSerializer
    pagination_class = NewestFirstCursorPagination
    queryset = WebhookEndpoint.objects.none()  # for the schema; requests read the caller's own

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return selectors.webhook_endpoints_of(organization=_organization(self.request))

    @extend_schema(
        operation_id="webhook_endpoints_list",
        responses={200: WebhookEndpointSerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=WebhookEndpointCreateSerializer,
        description="The answer carries the endpoint's signing `secret`; it is not shown again.",
        responses={
            201: WebhookEndpointWithSecretSerializer,
            409: OpenApiResponse(ErrorSerializer, description="`endpoint_limit_reached`."),
            **_BODY_ERRORS,
            **_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        organization = _organization(request)
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoints.endpoint_create(organization=organization, **serializer.validated_data)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(GenericAPIView[WebhookEndpoint]):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(
        operation_id="webhook_endpoints_retrieve", responses={200: WebhookEndpointSerializer, **_ERRORS}
    )
    def get(self, request: Request, endpoint_id: UUID) -> Response:
        return Response(WebhookEndpointSerializer(_endpoint_or_404(request, endpoint_id)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, **_BODY_ERRORS, **_ERRORS},
    )
    def patch(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = _endpoint_or_404(request, endpoint_id)
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoints.endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhook_endpoints_destroy", responses={204: None, **_ERRORS})
    def delete(self, request: Request, endpoint_id: UUID) -> Response:
        endpoints.endpoint_delete(endpoint=_endpoint_or_404(request, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretApi(GenericAPIView[WebhookEndpoint]):
    serializer_class = WebhookEndpointWithSecretSerializer

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=None,
        description=(
            "A new secret. For `WEBHOOK_SECRET_OVERLAP_HOURS` (24 h) messages are signed by both, so "
            "a receiver can switch without losing any."
        ),
        responses={200: WebhookEndpointWithSecretSerializer, **_ERRORS},
    )
    def post(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = endpoints.endpoint_secret_rotate(endpoint=_endpoint_or_404(request, endpoint_id))
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


class WebhookDeliveryListApi(GenericAPIView[WebhookDelivery]):
    serializer_class = WebhookDeliverySerializer
    pagination_class = NewestFirstCursorPagination
    queryset = WebhookDelivery.objects.none()  # for the schema; requests read the endpoint's own

    @extend_schema(
        operation_id="webhook_deliveries_list",
        description="Newest first, each with every attempt (time, status code, duration, error).",
        responses={200: WebhookDeliverySerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = _endpoint_or_404(request, endpoint_id)
        page = self.paginate_queryset(selectors.webhook_deliveries_of(endpoint=endpoint)) or []
        return self.get_paginated_response([render_delivery(sent) for sent in page])


class WebhookDeliveryRetryApi(GenericAPIView[WebhookDelivery]):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(
        operation_id="webhook_deliveries_retry",
        request=None,
        description=(
            "Sends the message again within a second or so (same `webhook-id`), whatever came of it before."
        ),
        responses={202: WebhookDeliverySerializer, **_ERRORS},
    )
    def post(self, request: Request, endpoint_id: UUID, delivery_id: int) -> Response:
        endpoint = _endpoint_or_404(request, endpoint_id)
        sent = selectors.webhook_deliveries_of(endpoint=endpoint).filter(pk=delivery_id).first()
        if sent is None:
            raise exceptions.NotFound("No such delivery.")
        return Response(
            render_delivery(delivery.delivery_retry(delivery=sent)), status=status.HTTP_202_ACCEPTED
        )
