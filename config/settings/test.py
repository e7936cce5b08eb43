"""Test settings: the real PostgreSQL and Redis, fast hashing, quick simulated bank."""

import atexit
import os
import shutil
import tempfile

from django.core.exceptions import ImproperlyConfigured
from redis import ConnectionPool

from config.env import env_str
from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Broker and cache both live in the test Redis database, whatever REDIS_URL, CELERY_BROKER_URL and
# CACHE_URL say: tests flush the cache (FLUSHDB) and purge queues, and database 0 is the one
# `make run` uses.
REDIS_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
if ConnectionPool.from_url(REDIS_URL).connection_kwargs.get("db", 0) == 0:
    raise ImproperlyConfigured(f"TEST_REDIS_URL must name a Redis database other than 0, not {REDIS_URL}")
CELERY_BROKER_URL = REDIS_URL
CACHES = {"default": {**CACHES["default"], "LOCATION": REDIS_URL}}
RECONCILE_BACKOFF_SECONDS = [0]
DISPATCH_RECLAIM_SECONDS = 0.0
DISPATCH_POLL_SECONDS = 0.02
FAKE_BANK_EXECUTION_DELAY_SECONDS = 0.0
FAKE_BANK_WEBHOOK_RETRY_SCALE = 0.001
BANK_SUBMIT_RETRY_BASE_SECONDS = 0.05
BANK_SUBMIT_RETRY_MAX_SECONDS = 0.5
WEBHOOK_RETRY_SCALE = 0.001
WEBHOOK_TIMEOUT_SECONDS = 2.0
# Worker and live-server threads must not keep connections open past the test database's life.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Static files as under `make run`: from the apps' folders, with no collectstatic output expected
# (Django turns DEBUG off for tests, which would otherwise switch WhiteNoise to STATIC_ROOT only).
WHITENOISE_AUTOREFRESH = True
# Every test client is 127.0.0.1: the per-IP limits are high here and set low by the tests of them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "anonymous": "100000/minute",
        "bank_webhook": "100000/minute",
    },
}
WHITENOISE_USE_FINDERS = True
# Metrics in a directory of the test run's own (not `make run`'s): made once by the test process
# and inherited, through the environment, by the workers and servers it starts.
if "TEST_METRICS_DIR" not in os.environ:
    os.environ["TEST_METRICS_DIR"] = tempfile.mkdtemp(prefix="payouts-test-metrics-")
    atexit.register(shutil.rmtree, os.environ["TEST_METRICS_DIR"], ignore_errors=True)
METRICS_DIR = os.environ["TEST_METRICS_DIR"]
if METRICS_ENABLED:
    use_metrics_dir(METRICS_DIR)
