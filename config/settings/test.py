"""Test settings: the real PostgreSQL and Redis, fast hashing, quick simulated bank."""

from config.env import env_str
from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REDIS_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
CELERY_BROKER_URL = REDIS_URL
RECONCILE_AFTER_SECONDS = 0
REQUEUE_NEW_AFTER_SECONDS = 0
FAKE_BANK_EXECUTION_DELAY_SECONDS = 0.0
FAKE_BANK_WEBHOOK_RETRY_SCALE = 0.001
BANK_SUBMIT_RETRY_BASE_SECONDS = 0.05
BANK_SUBMIT_RETRY_MAX_SECONDS = 0.5
# Worker and live-server threads must not keep connections open past the test database's life.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Static files as under `make run`: from the apps' folders, with no collectstatic output expected
# (Django turns DEBUG off for tests, which would otherwise switch WhiteNoise to STATIC_ROOT only).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
