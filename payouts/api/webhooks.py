"""`POST /api/webhooks/bank/`: signature first (over the raw bytes), then the body, then one service."""

import structlog
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from payouts.api.errors import PayloadTooLarge, envelope, error_body, rate_limited
from payouts.api.throttling import RateLimit, client_ip
from payouts.bank.webhooks import bank_event_receive
from payouts.metrics import BANK_WEBHOOKS
from payouts.models import WEBHOOK_ID_MAX_LENGTH
from provider.events import MalformedWebhookError, parse_webhook_event
from provider.signatures import WebhookKeyError, WebhookVerificationError, verify

logger = structlog.get_logger(__name__)


@csrf_exempt
def bank_webhook(request: HttpRequest) -> JsonResponse:
    refusal = _refusal_before_reading(request)
    if refusal is not None:
        return refusal
    body = request.body  # the exact bytes the bank signed; never a re-serialised copy
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return _too_large()
    webhook_id = request.headers.get("webhook-id")
    try:
        verify(
            public_keys=settings.BANK_WEBHOOK_PUBLIC_KEYS,
            msg_id=webhook_id,
            timestamp=request.headers.get("webhook-timestamp"),
            signature_header=request.headers.get("webhook-signature"),
            body=body,
            tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        )
        event = parse_webhook_event(body)  # only once the signature held
        if len(webhook_id or "") > WEBHOOK_ID_MAX_LENGTH:
            raise MalformedWebhookError(f"webhook-id is longer than {WEBHOOK_ID_MAX_LENGTH} characters.")
    except WebhookVerificationError as exc:
        logger.warning("bank_webhook.refused", code=exc.code, webhook_id=webhook_id)
        return _refuse(400 if exc.code == "missing_headers" else 401, exc.code, exc.message)
    except WebhookKeyError as exc:
        # Our configuration is wrong, not the bank's message: the bank retries later (the system
        # check `payouts.E002` refuses such keys at start-up; this covers a change since).
        logger.error("bank_webhook.public_keys_misconfigured", error=str(exc))
        return _refuse(
            503, "webhook_keys_misconfigured", "The configured bank public keys are invalid; try again later."
        )
    except MalformedWebhookError as exc:
        return _refuse(400, "malformed_webhook", str(exc))
    outcome, duplicate = bank_event_receive(webhook_id=webhook_id or "", event=event)
    BANK_WEBHOOKS.labels("duplicate" if duplicate else outcome, "").inc()
    return JsonResponse({"received": True, "outcome": outcome, "duplicate": duplicate})


def _refusal_before_reading(request: HttpRequest) -> JsonResponse | None:
    if request.method != "POST":
        response = _refuse(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        response["Allow"] = "POST"
        return response
    wait = RateLimit("bank_webhook").hit(client_ip(request))
    if wait is not None:
        BANK_WEBHOOKS.labels("refused", "rate_limited").inc()
        return rate_limited("Too many webhooks from this address.", wait)
    declared = request.headers.get("Content-Length", "0")
    if not declared.isdigit() or int(declared) > settings.WEBHOOK_MAX_BODY_BYTES:
        return _too_large()
    if not settings.BANK_WEBHOOK_PUBLIC_KEYS:
        logger.error("bank_webhook.no_public_keys_configured")
        return _refuse(503, "webhooks_not_configured", "No bank public key is configured; try again later.")
    return None


def _too_large() -> JsonResponse:
    refusal = PayloadTooLarge(settings.WEBHOOK_MAX_BODY_BYTES)
    BANK_WEBHOOKS.labels("refused", refusal.code).inc()
    return JsonResponse(error_body(refusal), status=refusal.http_status)


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    BANK_WEBHOOKS.labels("refused", code).inc()
    return JsonResponse(envelope(code, message), status=status)
