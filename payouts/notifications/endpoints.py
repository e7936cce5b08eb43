"""An organisation's webhook endpoints: registered, changed, deleted, their secret rotated."""

import base64
import secrets
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payouts.errors import EndpointLimitReached, EndpointUrlRefused, EventTypesNotAllowed
from payouts.models import ALL_EVENTS, EventType, Organization, WebhookEndpoint
from payouts.notifications.addresses import AddressRefused, url_checked

logger = structlog.get_logger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 24


def secret_new() -> str:
    """A signing secret as Standard Webhooks' libraries take it: `whsec_` and base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _url(url: str) -> str:
    try:
        url_checked(url)
    except AddressRefused as exc:
        raise EndpointUrlRefused(str(exc)) from None
    return url


def _enabled_events(types: list[str]) -> list[str]:
    known = set(EventType.values)
    unknown = sorted({name for name in types if name != ALL_EVENTS and name not in known})
    if unknown:
        raise EventTypesNotAllowed(f"Unknown event types: {', '.join(unknown)}; use '*' for all.")
    if not types:
        raise EventTypesNotAllowed("Name at least one event type, or '*' for all.")
    return [ALL_EVENTS] if ALL_EVENTS in types else list(dict.fromkeys(types))


@transaction.atomic
def endpoint_create(
    *, organization: Organization, url: str, enabled_events: list[str], description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint with a new secret (shown to the caller once, in this answer). Raises
    `EndpointUrlRefused` for a URL that may not receive webhooks, `EventTypesNotAllowed` for unknown
    types, `EndpointLimitReached` past `WEBHOOK_ENDPOINTS_PER_ORGANIZATION` (the organisation's row
    is locked, so two racing registrations count each other)."""
    Organization.objects.select_for_update().get(pk=organization.pk)
    if (
        WebhookEndpoint.objects.filter(organization=organization).count()
        >= settings.WEBHOOK_ENDPOINTS_PER_ORGANIZATION
    ):
        raise EndpointLimitReached(
            f"An organisation may have at most {settings.WEBHOOK_ENDPOINTS_PER_ORGANIZATION} endpoints."
        )
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=_url(url),
        enabled_events=_enabled_events(enabled_events),
        description=description,
        secret=secret_new(),
    )
    logger.info("webhook.endpoint_created", endpoint_id=str(endpoint.pk), url=endpoint.url)
    return endpoint


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    enabled_events: list[str] | None = None,
    description: str | None = None,
    disabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given. Enabling a disabled endpoint clears its reason and its failure count:
    it gets the events from now on (those it missed are in the events API)."""
    if url is not None:
        endpoint.url = _url(url)
    if enabled_events is not None:
        endpoint.enabled_events = _enabled_events(enabled_events)
    if description is not None:
        endpoint.description = description
    if disabled is not None and disabled != endpoint.disabled:
        endpoint.disabled = disabled
        endpoint.disabled_reason = "Disabled by the organisation." if disabled else ""
        endpoint.failing_since = None
    endpoint.save()
    return endpoint


def endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret; the old one keeps signing too (each message then carries both signatures) for
    `WEBHOOK_SECRET_OVERLAP_HOURS`, while the client switches."""
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret", "updated_at"])
    logger.info("webhook.endpoint_secret_rotated", endpoint_id=str(endpoint.pk))
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint with its deliveries and their attempts; its events stay."""
    logger.info("webhook.endpoint_deleted", endpoint_id=str(endpoint.pk))
    endpoint.delete()
