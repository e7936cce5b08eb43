"""Production: the same settings, read from the environment, refusing to start when unsafe."""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("ENVIRONMENT", "production")

from config.settings.base import *  # noqa: F403
from config.settings.base import ALLOWED_HOSTS, DEBUG, FAKE_BANK_ENABLED

if not os.environ.get("SECRET_KEY"):
    raise ImproperlyConfigured("SECRET_KEY must be set in production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (set DEBUG=false).")
if not ALLOWED_HOSTS or not os.environ.get("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production.")
if not os.environ.get("BANK_API_TOKEN") and not FAKE_BANK_ENABLED:
    raise ImproperlyConfigured("BANK_API_TOKEN must be set in production (or FAKE_BANK_ENABLED for a demo).")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
