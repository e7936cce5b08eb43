"""Who is calling: an organisation (by its API key) or an operator (a Django staff user)."""

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

if TYPE_CHECKING:
    # DRF imports the authentication classes while `rest_framework.views` is still loading.
    from rest_framework.views import APIView

from payouts.models import Organization, OrganizationAPIKey

API_KEY_PREFIX = "Api-Key"
# Keys verified in this process, by the SHA-256 of the whole key: (valid until, key row). Only keys
# that verified are kept, so wrong keys cannot fill it; the bound keeps a long-lived process small.
VERIFIED_KEYS_MAX = 10_000
_verified_keys: dict[str, tuple[float, OrganizationAPIKey]] = {}
_verified_keys_lock = threading.Lock()


@dataclass(frozen=True)
class OrganizationCaller:
    """`request.user` for a request authenticated with an organisation's API key."""

    organization: Organization
    is_authenticated: bool = True
    is_staff: bool = False
    is_active: bool = True

    @property
    def pk(self) -> str:
        return f"org:{self.organization.pk}"


class OrganizationAPIKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`. A wrong or revoked key is a 401, never a silent anonymous."""

    def authenticate(self, request: Request) -> tuple[OrganizationCaller, OrganizationAPIKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, key = header.partition(" ")
        if scheme != API_KEY_PREFIX:
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed("The Api-Key header has no key.")
        if not key.isascii() or not key.isprintable():
            raise exceptions.AuthenticationFailed("An API key is printable ASCII.")
        api_key = _verified_key(key)
        return OrganizationCaller(organization=api_key.organization), api_key

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_PREFIX


def _verified_key(key: str) -> OrganizationAPIKey:
    """The key's row with its organisation, verified at most `API_KEY_CACHE_SECONDS` ago in this
    process: a revoked or expired key stops working within that time. Raises `AuthenticationFailed`."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    now = time.monotonic()
    cached = _verified_keys.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    # The library's `get_from_key`, plus the organisation in the same query.
    prefix, _, _ = key.partition(".")
    api_key: OrganizationAPIKey | None = (
        OrganizationAPIKey.objects.get_usable_keys()
        .select_related("organization")
        .filter(prefix=prefix)
        .first()
    )
    if api_key is None or not api_key.is_valid(key) or api_key.has_expired:
        raise exceptions.AuthenticationFailed("Invalid, revoked or expired API key.")
    ttl = settings.API_KEY_CACHE_SECONDS
    if ttl > 0:
        with _verified_keys_lock:
            if len(_verified_keys) >= VERIFIED_KEYS_MAX:
                _verified_keys.clear()
            _verified_keys[digest] = (now + ttl, api_key)
    return api_key


def caller_organization(request: Request) -> Organization | None:
    """The calling organisation, or None for an operator (who sees every organisation)."""
    user = request.user
    if isinstance(user, OrganizationCaller):
        return user.organization
    return None


def is_operator(request: Request) -> bool:
    user: Any = request.user
    return not isinstance(user, OrganizationCaller) and bool(getattr(user, "is_staff", False))


class IsOrganizationOrOperator(permissions.BasePermission):
    """Organisations through their API key; people only when they are staff (operators)."""

    message = "Only organisations (Api-Key) and operators (staff users) may use the API."

    def has_permission(self, request: Request, view: "APIView") -> bool:
        user: OrganizationCaller | AbstractBaseUser | AnonymousUser | None = request.user
        if isinstance(user, OrganizationCaller):
            return True
        return bool(user is not None and user.is_authenticated and getattr(user, "is_staff", False))


class OrganizationAPIKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Documents `Authorization: Api-Key <key>` in the OpenAPI schema."""

    target_class = "payouts.api.auth.OrganizationAPIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: the key printed by `manage.py create_api_key <inn>`.",
        }
