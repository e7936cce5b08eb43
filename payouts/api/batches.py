"""`/api/payout-batches/`: a batch of payouts in one request, as JSON or as a CSV file; its status,
counts and items; a report of its items as CSV; the cancel of its items still `new`. HTTP only:
parse, call one service or selector, render."""

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from payouts.api.auth import caller_organization
from payouts.api.errors import ErrorSerializer, PayloadTooLarge, documented_errors
from payouts.api.pagination import NewestFirstCursorPagination
from payouts.api.parsers import is_json, strict_json_loads
from payouts.api.serializers import PayoutCreateSerializer, TextField, payout_request_from
from payouts.api.views import idempotency_key, idempotency_key_parameter
from payouts.batches.create import BatchItem, BatchItemsInvalid, payout_batch_cancel, payout_batch_create
from payouts.models import Organization, Payout, PayoutBatch
from payouts.notifications.batches import batch_totals, render_batch
from payouts.rendering import PAYOUT_FIELDS, render_payout

CSV_COLUMNS = ("amount", "currency", "name", "account_number", "bic", "iban", "description", "reference")
CSV_REQUIRED = ("amount", "currency", "name")
RECIPIENT_COLUMNS = ("name", "account_number", "bic", "iban")
# The report's columns: the payout as the API renders it, its recipient's fields spread out.
REPORT_COLUMNS = (
    "id",
    "reference",
    "amount",
    "currency",
    *RECIPIENT_COLUMNS,
    "description",
    "status",
    "failure_code",
    "failure_reason",
    "bank_reference",
    "created_at",
    "updated_at",
)
# A spreadsheet runs a cell that starts with one of these as a formula: such a cell is written with
# a leading apostrophe (OWASP's advice for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

BatchSerializer = inline_serializer(
    name="PayoutBatch",
    fields={
        "id": serializers.UUIDField(),
        "description": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["processing", "completed"]),
        "item_count": serializers.IntegerField(),
        "counts": serializers.DictField(child=serializers.IntegerField(), help_text="Items per status."),
        "totals": serializers.ListField(
            child=serializers.DictField(),
            help_text="Per currency and status: `count` and `amount` (a decimal string).",
        ),
        "created_at": serializers.DateTimeField(),
        "completed_at": serializers.DateTimeField(allow_null=True),
    },
)
_ERRORS = documented_errors(not_found="No such batch for this caller.")


class BatchItemSerializer(PayoutCreateSerializer):
    reference = TextField(
        required=False, allow_blank=True, max_length=64, default="", help_text="Yours; unique in the batch."
    )


class BatchBodySerializer(serializers.Serializer[Any]):
    """The JSON form (for the schema; the view reads the body itself)."""

    description = TextField(required=False, allow_blank=True, max_length=500)
    items = BatchItemSerializer(many=True)


def _organization(request: Request) -> Organization:
    organization = caller_organization(request)
    if organization is None:
        raise exceptions.PermissionDenied("Batches belong to organisations: use an API key.")
    return organization


def _body(request: Request) -> bytes:
    """The raw body, at most `PAYOUT_BATCH_MAX_BYTES` (a batch is larger than the API's other
    bodies, whose limit Django applies)."""
    limit = settings.PAYOUT_BATCH_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > limit:
        raise PayloadTooLarge(limit)
    raw: bytes = request._request.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(limit)
    return raw


def _from_json(raw: bytes) -> tuple[str, list[tuple[int | None, Any]], str]:
    try:
        data = strict_json_loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise exceptions.ParseError("The body is not valid UTF-8.") from None
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Send an object with `items`."]})
    unknown = sorted(set(data) - {"description", "items"})
    if unknown:
        raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
    items, description = data.get("items"), data.get("description", "")
    if not isinstance(items, list):
        raise exceptions.ValidationError({"items": ["Send a list of items."]})
    if not isinstance(description, str) or not description.isprintable() or len(description) > 500:
        raise exceptions.ValidationError({"description": ["At most 500 printable characters."]})
    normal = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return description, [(None, item) for item in items], hashlib.sha256(normal.encode()).hexdigest()


def _from_csv(raw: bytes, description: str) -> tuple[str, list[tuple[int | None, Any]], str]:
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's byte-order mark is not a column name
    except UnicodeDecodeError:
        raise exceptions.ParseError("The file is not valid UTF-8.") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise exceptions.ValidationError(
                {"file": ["The file is empty: send a header row, then the items."]}
            )
        names = [name.strip() for name in header]
        unknown = sorted(set(names) - set(CSV_COLUMNS))
        missing = [name for name in CSV_REQUIRED if name not in names]
        if unknown or missing or len(set(names)) != len(names):
            raise exceptions.ValidationError(
                {
                    "file": [
                        (
                            f"The header row must name columns of {', '.join(CSV_COLUMNS)}, each once, "
                            f"with {', '.join(CSV_REQUIRED)}."
                        )
                    ]
                }
            )
        rows: list[tuple[int | None, Any]] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            rows.append(
                (reader.line_num, _csv_item(dict(zip(names, cells, strict=False)), len(cells) - len(names)))
            )
    except csv.Error as exc:
        raise exceptions.ParseError(f"Malformed CSV at line {reader.line_num}: {exc}") from None
    return description, rows, hashlib.sha256(raw).hexdigest()


def _csv_item(row: dict[str, str], extra_cells: int) -> dict[str, Any]:
    """A CSV row as the JSON item it stands for (empty cells left out)."""
    cells = {name: value for name, value in row.items() if value != ""}
    recipient = {name: cells.pop(name) for name in ("name", "account_number", "bic", "iban") if name in cells}
    item: dict[str, Any] = {**cells, "recipient": recipient}
    if extra_cells > 0:
        item["extra cells"] = extra_cells  # refused as an unknown field, with the row's line
    return item


def _parsed(entries: list[tuple[int | None, Any]]) -> tuple[list[BatchItem | None], dict[int, Any]]:
    """Every item parsed as a single payout's request is: the items (None where one does not parse)
    and the parse errors by index. The rules are the service's to check."""
    if not entries:
        raise exceptions.ValidationError({"items": ["A batch has at least one item."]})
    if len(entries) > settings.PAYOUT_BATCH_MAX_ITEMS:
        raise exceptions.ValidationError(
            {"items": [f"A batch has at most {settings.PAYOUT_BATCH_MAX_ITEMS} items, not {len(entries)}."]}
        )
    parsed: list[BatchItem | None] = []
    errors: dict[int, Any] = {}
    # One serializer for every item: building one (DRF copies its fields) cost more than validating.
    serializer = BatchItemSerializer()
    for index, (_, data) in enumerate(entries):
        try:
            validated = serializer.run_validation(data)
        except exceptions.ValidationError as exc:
            errors[index] = exc.detail
            parsed.append(None)
            continue
        parsed.append(BatchItem(request=payout_request_from(validated), reference=validated["reference"]))
    return parsed, errors


def _with_lines(exc: BatchItemsInvalid, entries: list[tuple[int | None, Any]]) -> BatchItemsInvalid:
    lines = {index: line for index, (line, _) in enumerate(entries) if line}
    if lines:
        exc.details["items"] = {
            index: {"line": lines[index], **errors} for index, errors in exc.details["items"].items()
        }
    return exc


def _render(batches: list[PayoutBatch]) -> list[dict[str, Any]]:
    totals = batch_totals(batch.pk for batch in batches)
    return [render_batch(batch, totals.get(batch.pk, [])) for batch in batches]


class PayoutBatchListCreateApi(GenericAPIView[PayoutBatch]):
    serializer_class = type(BatchSerializer)
    pagination_class = NewestFirstCursorPagination
    queryset = PayoutBatch.objects.none()  # for the schema; requests read the caller's own
    parser_classes: list[Any] = []  # the body is read as JSON or CSV by `post`

    def get_queryset(self) -> QuerySet[PayoutBatch]:
        return PayoutBatch.objects.filter(organization=_organization(self.request))

    @extend_schema(
        operation_id="payout_batches_list", responses={200: type(BatchSerializer)(many=True), **_ERRORS}
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        return self.get_paginated_response(_render(list(page)))

    @extend_schema(
        operation_id="payout_batches_create",
        request={"application/json": BatchBodySerializer, "text/csv": {"type": "string"}},
        description=(
            f"Up to {settings.PAYOUT_BATCH_MAX_ITEMS} payouts, all or none: JSON `{{description, items}}`, "
            f"or `text/csv` with a header row naming columns of {', '.join(CSV_COLUMNS)} (the "
            "batch's description then in `?description=`). Every item is checked as a single payout "
            "is; any error refuses the whole batch with every item's errors by index (and the CSV's "
            "line). The balance must cover the batch's total in each currency."
        ),
        parameters=[
            idempotency_key_parameter(
                "The same key with the same body (CSV: the same bytes) returns the batch (200)."
            ),
            OpenApiParameter("description", str, description="A CSV batch's description."),
        ],
        responses={
            201: type(BatchSerializer),
            200: OpenApiResponse(
                type(BatchSerializer), description="Replay of an earlier request with this key."
            ),
            400: OpenApiResponse(
                ErrorSerializer, description="`validation_error`: `details.items` by index."
            ),
            409: OpenApiResponse(
                ErrorSerializer, description="`idempotency_key_reused`: same key, other body."
            ),
            413: OpenApiResponse(ErrorSerializer, description="`payload_too_large`."),
            415: OpenApiResponse(
                ErrorSerializer, description="`unsupported_media_type`: neither JSON nor CSV."
            ),
            422: OpenApiResponse(
                ErrorSerializer, description="`insufficient_funds`, with each currency's shortfall."
            ),
            **_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        organization = _organization(request)
        key = idempotency_key(request)
        content_type = request.META.get("CONTENT_TYPE", "")
        raw = _body(request)
        if is_json(content_type):
            description, entries, fingerprint = _from_json(raw)
        elif content_type.split(";", 1)[0].strip().lower() == "text/csv":
            description = request.query_params.get("description", "")
            if not description.isprintable() or len(description) > 500:
                raise exceptions.ValidationError({"description": ["At most 500 printable characters."]})
            description, entries, fingerprint = _from_csv(raw, description)
        else:
            raise exceptions.UnsupportedMediaType(content_type or "none")
        items, parse_errors = _parsed(entries)
        try:
            batch, created = payout_batch_create(
                organization=organization,
                idempotency_key=key,
                fingerprint=fingerprint,
                description=description,
                items=items,
            )
        except BatchItemsInvalid as exc:
            # The service's rule errors and the items that did not parse, all in one answer.
            exc.details["items"] = dict(sorted({**exc.details["items"], **parse_errors}.items()))
            raise _with_lines(exc, entries) from None
        return Response(
            _render([batch])[0], status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def _batch_or_404(request: Request, batch_id: UUID) -> PayoutBatch:
    batch = PayoutBatch.objects.filter(organization=_organization(request), pk=batch_id).first()
    if batch is None:
        raise exceptions.NotFound("No such batch.")
    return batch


class PayoutBatchDetailApi(GenericAPIView[PayoutBatch]):
    serializer_class = type(BatchSerializer)
    queryset = PayoutBatch.objects.none()

    @extend_schema(operation_id="payout_batches_retrieve", responses={200: type(BatchSerializer), **_ERRORS})
    def get(self, request: Request, batch_id: UUID) -> Response:
        return Response(_render([_batch_or_404(request, batch_id)])[0])


class PayoutBatchCancelApi(GenericAPIView[PayoutBatch]):
    serializer_class = type(BatchSerializer)
    queryset = PayoutBatch.objects.none()

    @extend_schema(
        operation_id="payout_batches_cancel",
        request=None,
        description="Cancels every item still `new`; items already with the bank carry on.",
        responses={
            200: inline_serializer(
                name="PayoutBatchCanceled",
                fields={"canceled": serializers.IntegerField(), "batch": type(BatchSerializer)()},
            ),
            **_ERRORS,
        },
    )
    def post(self, request: Request, batch_id: UUID) -> Response:
        batch = _batch_or_404(request, batch_id)
        canceled = payout_batch_cancel(batch=batch)
        return Response({"canceled": canceled, "batch": _render([batch])[0]})


class PayoutBatchItemsCsvApi(GenericAPIView[PayoutBatch]):
    serializer_class = type(BatchSerializer)
    queryset = PayoutBatch.objects.none()

    @extend_schema(
        operation_id="payout_batches_items_csv",
        responses={(200, "text/csv"): OpenApiResponse(str, description="One row per item."), **_ERRORS},
    )
    def get(self, request: Request, batch_id: UUID) -> StreamingHttpResponse:
        batch = _batch_or_404(request, batch_id)
        response = StreamingHttpResponse(_report_rows(batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}.csv"'
        return response


def _report_rows(batch: PayoutBatch) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(cell) for cell in cells])
        return buffer.getvalue()

    yield line(list(REPORT_COLUMNS))
    rows = Payout.objects.filter(batch=batch).order_by("created_at", "id").values(*PAYOUT_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        shown = render_payout(row)
        cells = {**shown, **shown["recipient"]}
        yield line([cells.get(column) or "" for column in REPORT_COLUMNS])


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
