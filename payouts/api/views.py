"""HTTP only: parse, call one service or selector, render."""

from time import perf_counter
from typing import Any
from uuid import UUID

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from payouts import selectors, services
from payouts.api.auth import caller_organization, is_operator
from payouts.api.errors import BODY_ERRORS, INVALID_INPUT, ErrorSerializer, documented_errors
from payouts.api.filters import PayoutFilter, PayoutFilterBackend
from payouts.api.pagination import NewestFirstCursorPagination
from payouts.api.serializers import (
    PayoutCreateSerializer,
    PayoutListItemSerializer,
    PayoutSerializer,
    PayoutUpdateSerializer,
)
from payouts.metrics import CREATE_SECONDS
from payouts.models import Actor, Payout, PayoutStatus
from payouts.rendering import render_payout

IDEMPOTENCY_KEY_MAX_LENGTH = 255
# Requests the schema shows, each of which succeeds against a funded organisation: the account
# passes the control-key check against the BIC (the simulator pays it), the IBAN its check digits.
CREATE_EXAMPLES = [
    OpenApiExample(
        "An account with its BIC",
        value={
            "amount": "100.50",
            "currency": "RUB",
            "recipient": {
                "name": "Ivan Petrov",
                "account_number": "40702810938000000001",
                "bic": "044525225",
            },
            "description": "Invoice 2024-0001",
        },
        request_only=True,
    ),
    OpenApiExample(
        "An IBAN",
        value={
            "amount": 250,
            "currency": "EUR",
            "recipient": {"name": "Hans Muster", "iban": "DE89370400440532013000"},
        },
        request_only=True,
    ),
]
UPDATE_EXAMPLES = [
    OpenApiExample(
        "Cancel", value={"status": "canceled", "reason": "The customer withdrew."}, request_only=True
    ),
    OpenApiExample(
        "A new description", value={"description": "Invoice 2024-0001, corrected"}, request_only=True
    ),
]

_ERRORS = {400: INVALID_INPUT, **documented_errors(not_found="No such payout for this caller.")}


def idempotency_key_parameter(description: str) -> OpenApiParameter:
    """The `Idempotency-Key` header a creating operation requires (read by `idempotency_key`)."""
    return OpenApiParameter(
        "Idempotency-Key",
        type={"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
        location=OpenApiParameter.HEADER,
        required=True,
        description=description,
    )


def _actor(request: Request) -> Actor:
    return Actor.OPERATOR if is_operator(request) else Actor.CLIENT


def _payout_or_404(request: Request, payout_id: UUID) -> Payout:
    try:
        return selectors.payout_get_visible(organization=caller_organization(request), payout_id=payout_id)
    except Payout.DoesNotExist:
        raise exceptions.NotFound("No such payout.") from None


class PayoutListCreateApi(GenericAPIView[Payout]):
    serializer_class = PayoutListItemSerializer
    filter_backends = [PayoutFilterBackend]
    filterset_class = PayoutFilter
    pagination_class = NewestFirstCursorPagination

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """As DRF's, with a successful create's time (authentication, throttles, the service, the
        rendering's preparation) in `payouts_create_duration_seconds`."""
        started = perf_counter()
        response = super().dispatch(request, *args, **kwargs)
        if request.method == "POST" and response.status_code in {200, 201}:
            CREATE_SECONDS.observe(perf_counter() - started)
        return response

    def get_queryset(self) -> Any:
        return selectors.payout_rows_visible_to(organization=caller_organization(self.request))

    @extend_schema(
        operation_id="payouts_list",
        description="Newest first. Items carry no `events`: a payout's history is in its detail.",
        responses={200: PayoutListItemSerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        rows = self.paginate_queryset(queryset) or []
        return self.get_paginated_response([render_payout(row) for row in rows])

    @extend_schema(
        operation_id="payouts_create",
        request=PayoutCreateSerializer,
        examples=CREATE_EXAMPLES,
        parameters=[
            idempotency_key_parameter(
                f"1-{IDEMPOTENCY_KEY_MAX_LENGTH} printable characters, unique per payout. A replay "
                "with the same body returns the same payout (200)."
            )
        ],
        responses={
            201: PayoutSerializer,
            200: OpenApiResponse(PayoutSerializer, description="Replay of an earlier request with this key."),
            409: OpenApiResponse(
                ErrorSerializer, description="`idempotency_key_reused`: same key, other body."
            ),
            422: OpenApiResponse(ErrorSerializer, description="`insufficient_funds`."),
            **BODY_ERRORS,
            **_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        organization = caller_organization(request)
        if organization is None:
            raise exceptions.PermissionDenied("Payouts are created by organisations, with their API key.")
        key = idempotency_key(request)
        serializer = PayoutCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payout, created = services.payout_create(
            organization=organization, idempotency_key=key, request=serializer.to_request()
        )
        if not created:  # a replay answers with the payout as it is now, events and all
            payout = selectors.payout_for_idempotent_response(payout_id=payout.pk)
        return Response(
            PayoutSerializer(payout).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def idempotency_key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise exceptions.ValidationError(
            {"Idempotency-Key": ["This header is required: 1-255 printable characters, unique per payout."]}
        )
    return key


class PayoutDetailApi(GenericAPIView[Payout]):
    serializer_class = PayoutSerializer

    @extend_schema(operation_id="payouts_retrieve", responses={200: PayoutSerializer, **_ERRORS})
    def get(self, request: Request, payout_id: UUID) -> Response:
        return Response(PayoutSerializer(_payout_or_404(request, payout_id)).data)

    @extend_schema(
        operation_id="payouts_update",
        request=PayoutUpdateSerializer,
        examples=UPDATE_EXAMPLES,
        responses={
            200: PayoutSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "`invalid_transition` (with current and requested status); `payout_not_editable` "
                    "(the description changes only while `new`); `cancel_refused` (the bank has "
                    "executed it); `cancel_pending` (the bank has not confirmed the cancel yet); "
                    "`bank_disagrees` (an operator's `failed` on a payout the bank still has)."
                ),
            ),
            503: OpenApiResponse(ErrorSerializer, description="`bank_unavailable`: try the cancel again."),
            **BODY_ERRORS,
            **_ERRORS,
        },
    )
    def patch(self, request: Request, payout_id: UUID) -> Response:
        payout = _payout_or_404(request, payout_id)
        serializer = PayoutUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = _actor(request)
        services.payout_update(
            payout=payout,
            actor=actor,
            status=PayoutStatus(data["status"]) if "status" in data else None,
            description=data.get("description"),
            reason=data.get("reason", ""),
            failure_code=data.get("failure_code", ""),
            settlement=services.ManualSettlement(
                permitted=request.user.has_perm("payouts.settle_by_hand"), force=data["force"]
            )
            if actor == Actor.OPERATOR
            else None,
        )
        return Response(PayoutSerializer(_payout_or_404(request, payout_id)).data)

    @extend_schema(
        operation_id="payouts_destroy",
        responses={
            204: None,
            409: OpenApiResponse(ErrorSerializer, description="`payout_in_flight`: processing or submitted."),
            **_ERRORS,
        },
    )
    def delete(self, request: Request, payout_id: UUID) -> Response:
        services.payout_hide(payout=_payout_or_404(request, payout_id), actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
