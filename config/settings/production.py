"""Production: the same settings, read from the environment, refusing to start when unsafe."""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("ENVIRONMENT", "production")

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    ALLOWED_HOSTS,
    BANK_API_TOKEN,
    DEBUG,
    DEV_BANK_API_TOKEN,
    FAKE_BANK_API_TOKEN,
    FAKE_BANK_ENABLED,
    METRICS_ENABLED,
    METRICS_TOKEN,
)

if not os.environ.get("SECRET_KEY"):
    raise ImproperlyConfigured("SECRET_KEY must be set in production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (set DEBUG=false).")
if not ALLOWED_HOSTS or not os.environ.get("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production.")
if not os.environ.get("BANK_API_TOKEN") or BANK_API_TOKEN == DEV_BANK_API_TOKEN:
    raise ImproperlyConfigured("BANK_API_TOKEN must be set in production, and not to the development token.")
if FAKE_BANK_ENABLED and FAKE_BANK_API_TOKEN in {"", DEV_BANK_API_TOKEN}:
    raise ImproperlyConfigured(
        "FAKE_BANK_ENABLED in production needs FAKE_BANK_API_TOKEN (or BANK_API_TOKEN) other than the "
        "development token: the simulator's API credits money."
    )

if METRICS_ENABLED and not METRICS_TOKEN:
    raise ImproperlyConfigured("METRICS_TOKEN must be set in production (or METRICS_ENABLED=false).")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
