"""`POST /dev/webhook-inbox/receive/` takes a message as a client's endpoint would (verify, store,
answer 2xx fast); `GET /dev/webhook-inbox/` shows the last ones."""

import json
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhook_inbox.models import InboxMessage

SHOWN = 50
BODY_MAX_BYTES = 64 * 1024


def inbox_secret() -> str:
    """The secret of the endpoint the inbox stands for: `WEBHOOK_INBOX_SECRET_FILE`, written by
    `manage.py seed_demo` (empty when it has not run)."""
    path = Path(settings.WEBHOOK_INBOX_SECRET_FILE)
    return path.read_text().strip() if path.exists() else ""


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> JsonResponse:
    body = request.body[:BODY_MAX_BYTES]
    headers = {
        name: request.headers.get(name, "")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    secret = inbox_secret()
    error = ""
    try:
        if not secret:
            raise WebhookVerificationError("no secret: run `make seed`")
        payload = Webhook(secret).verify(body, headers)
    except (WebhookVerificationError, ValueError) as exc:
        payload, error = {}, str(exc) or type(exc).__name__
    InboxMessage.objects.create(
        webhook_id=headers["webhook-id"][:200],
        event_type=str(payload.get("type", ""))[:64] if isinstance(payload, dict) else "",
        verified=not error,
        error=error[:300],
        body=body.decode("utf-8", "replace"),
    )
    if error:
        return JsonResponse({"received": False, "error": error}, status=400)
    return JsonResponse({"received": True})


@require_GET
def page(request: HttpRequest) -> HttpResponse:
    messages = []
    for message in InboxMessage.objects.all()[:SHOWN]:
        try:
            parsed = json.loads(message.body)
        except ValueError:
            parsed = None
        obj = parsed.get("data", {}).get("object", {}) if isinstance(parsed, dict) else {}
        messages.append(
            {
                "message": message,
                "object_id": obj.get("id", "") if isinstance(obj, dict) else "",
                "status": obj.get("status", "") if isinstance(obj, dict) else "",
                "pretty": json.dumps(parsed, indent=2) if parsed is not None else message.body,
            }
        )
    return render(
        request, "webhook_inbox/inbox.html", {"messages": messages, "has_secret": bool(inbox_secret())}
    )
