"""Settings for every environment. Development defaults work on a laptop with the local services.

Everything is read from the environment here and nowhere else. `production.py` only adds the checks
that make a missing secret fail fast.
"""

import json
import os
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext

from config.env import env_bool, env_decimal, env_float, env_int, env_list, env_str

# Lets `ModelAdmin[Model]` and friends be subscripted at run time, as the type stubs expect.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

ENVIRONMENT = env_str("ENVIRONMENT", "development")
SECRET_KEY = env_str("SECRET_KEY", "dev-insecure-secret-key-change-me")
DEBUG = env_bool("DEBUG", ENVIRONMENT == "development")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1 localhost testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "payouts",
]

MIDDLEWARE = [
    "config.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the bank simulator's page, Swagger UI and ReDoc) from the app server itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payouts"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes compressed copies next to each file; WhiteNoise serves them.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "payouts.api.auth.OrganizationAPIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["payouts.api.auth.IsOrganizationOrOperator"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["payouts.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "payouts.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "payouts.api.throttling.CallerRateThrottle",
        "payouts.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        # Per authenticated caller (an organisation's key, an operator).
        "caller": env_str("API_RATE_LIMIT", "6000/minute"),
        # Per client IP, every request without valid credentials (a wrong key included).
        "anonymous": env_str("API_ANONYMOUS_RATE_LIMIT", "120/minute"),
        # Per client IP, the bank's webhooks: generous (a bank retries a 429 later, late is costly).
        "bank_webhook": env_str("BANK_WEBHOOK_RATE_LIMIT", "12000/minute"),
    },
    # Proxies in front of the app that append to X-Forwarded-For: the client IP is the address
    # they saw (0: REMOTE_ADDR, the header is not trusted).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "UNAUTHENTICATED_USER": None,
}
# A verified API key is trusted in-process this long: a revoked key stops working within it.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 5)
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Payout service API",
    "DESCRIPTION": (
        "Create and track payouts. Authenticate with `Authorization: Api-Key <key>`. "
        'Every error has the body `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc are served from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PayoutStatusEnum": "payouts.models.PayoutStatus.choices",
        "EventTypeEnum": "payouts.models.EventType.choices",
    },
    # Every operation may also get what the web server itself refuses (`config/gunicorn.py`).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "payouts.api.errors.server_limits_documented",
    ],
}

# --- Payouts ---------------------------------------------------------------------------------
PAYOUT_CURRENCIES = env_list("PAYOUT_CURRENCIES", "RUB USD EUR GBP")
PAYOUT_MAX_AMOUNT = env_decimal("PAYOUT_MAX_AMOUNT", "10000000")
# The reconciler looks an in-flight payout up at the bank this long after it entered its status,
# then after each further step (the last repeats): a webhook is usually there first; a payout the
# bank keeps for days is asked hourly, and never crowds out a newer one.
RECONCILE_BACKOFF_SECONDS = [
    int(step) for step in env_list("RECONCILE_BACKOFF_SECONDS", "10 30 60 300 1800 3600")
]
RECONCILE_BATCH_SIZE = env_int("RECONCILE_BATCH_SIZE", 100)
# The sweep of the bank's incoming transfers (what a lost webhook did not announce): how often, and
# at most how many pages (100 transfers each) a sweep reads.
INCOMING_SWEEP_INTERVAL_SECONDS = env_float("INCOMING_SWEEP_INTERVAL_SECONDS", 60.0)
INCOMING_SWEEP_MAX_PAGES = env_int("INCOMING_SWEEP_MAX_PAGES", 10)
# In flight this long after leaving `new`: flagged as stuck (never failed blindly).
STUCK_AFTER_HOURS = env_float("STUCK_AFTER_HOURS", 24.0)
# The dispatcher (`manage.py payouts_dispatch`) hands `new` payouts to the workers: it looks every
# DISPATCH_POLL_SECONDS, claims up to DISPATCH_BATCH_SIZE, queues them DISPATCH_CHUNK_SIZE to a task,
# and claims again a payout still `new` DISPATCH_RECLAIM_SECONDS after its claim (the task was lost).
# --- Batches -----------------------------------------------------------------------------------
PAYOUT_BATCH_MAX_ITEMS = env_int("PAYOUT_BATCH_MAX_ITEMS", 10_000)
# A batch's body (JSON or CSV) may be this large; every other body keeps Django's 2.5 MB.
PAYOUT_BATCH_MAX_BYTES = env_int("PAYOUT_BATCH_MAX_BYTES", 8 * 1024 * 1024)
# How often batches whose items are all final are marked completed (and told).
PAYOUT_BATCH_COMPLETE_SECONDS = env_float("PAYOUT_BATCH_COMPLETE_SECONDS", 5.0)

# --- Client webhooks (docs/design.md, "Telling the client") -------------------------------------
# Events (the events API, what endpoints are sent) are kept this long, then pruned daily.
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 30)
# Seconds before each attempt of a message (Standard Webhooks' schedule: at once, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h), multiplied by WEBHOOK_RETRY_SCALE (development waits a hundredth).
WEBHOOK_RETRY_SCHEDULE_SECONDS = [
    int(step) for step in env_list("WEBHOOK_RETRY_SCHEDULE_SECONDS", "0 5 300 1800 7200 18000 36000 36000")
]
WEBHOOK_RETRY_SCALE = env_float("WEBHOOK_RETRY_SCALE", 0.01 if ENVIRONMENT == "development" else 1.0)
# A 2xx within this many seconds is a success; anything else, a redirect included, a failure.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 15.0)
# An endpoint whose every attempt has failed for this long is disabled.
WEBHOOK_DISABLE_AFTER_DAYS = env_float("WEBHOOK_DISABLE_AFTER_DAYS", 5.0)
# After a secret rotation, messages carry signatures by both secrets this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env_float("WEBHOOK_SECRET_OVERLAP_HOURS", 24.0)
# Development and tests may register http:// URLs on this machine; elsewhere an endpoint must be
# https:// and resolve to public addresses only, checked at registration and at every delivery.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", ENVIRONMENT in {"development", "test"})
# How often events are fanned out to endpoints and due messages handed to the webhook workers.
WEBHOOK_POLL_SECONDS = env_float("WEBHOOK_POLL_SECONDS", 1.0)
# Messages one worker sends to one endpoint before it lets the endpoint go (and the next poll
# hands it out again).
WEBHOOK_DELIVERIES_PER_TASK = env_int("WEBHOOK_DELIVERIES_PER_TASK", 100)
WEBHOOK_ENDPOINTS_PER_ORGANIZATION = env_int("WEBHOOK_ENDPOINTS_PER_ORGANIZATION", 16)

DISPATCH_POLL_SECONDS = env_float("DISPATCH_POLL_SECONDS", 0.1)
DISPATCH_BATCH_SIZE = env_int("DISPATCH_BATCH_SIZE", 500)
DISPATCH_CHUNK_SIZE = env_int("DISPATCH_CHUNK_SIZE", 10)
DISPATCH_RECLAIM_SECONDS = env_float("DISPATCH_RECLAIM_SECONDS", 30.0)
RECONCILE_INTERVAL_SECONDS = env_float("RECONCILE_INTERVAL_SECONDS", 5.0)
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 64 * 1024)
WEBHOOK_TOLERANCE_SECONDS = env_int("WEBHOOK_TOLERANCE_SECONDS", 300)

# --- The bank --------------------------------------------------------------------------------
BANK_API_URL = env_str("BANK_API_URL", "http://127.0.0.1:8000/fake-bank/api")
DEV_BANK_API_TOKEN = "dev-bank-token"  # published in this repository: development only
BANK_API_TOKEN = env_str("BANK_API_TOKEN", DEV_BANK_API_TOKEN)
BANK_CONNECT_TIMEOUT = env_float("BANK_CONNECT_TIMEOUT", 3.0)
BANK_READ_TIMEOUT = env_float("BANK_READ_TIMEOUT", 10.0)
BANK_SUBMIT_MAX_RETRIES = env_int("BANK_SUBMIT_MAX_RETRIES", 8)
BANK_SUBMIT_RETRY_BASE_SECONDS = env_float("BANK_SUBMIT_RETRY_BASE_SECONDS", 2.0)
BANK_SUBMIT_RETRY_MAX_SECONDS = env_float("BANK_SUBMIT_RETRY_MAX_SECONDS", 600.0)

# Development keys live in a git-ignored file written by `manage.py fake_bank_keys`
# (run by `make run`); any environment set `BANK_WEBHOOK_PUBLIC_KEYS` / `FAKE_BANK_SIGNING_KEYS`.
DEV_WEBHOOK_KEYS_FILE = Path(
    env_str("DEV_WEBHOOK_KEYS_FILE", str(BASE_DIR / "var" / "dev-webhook-keys.json"))
)


def _dev_webhook_keys() -> dict[str, list[str]]:
    if not DEV_WEBHOOK_KEYS_FILE.exists():
        return {"public": [], "private": []}
    loaded: dict[str, list[str]] = json.loads(DEV_WEBHOOK_KEYS_FILE.read_text())
    return loaded


_DEV_KEYS = _dev_webhook_keys()
BANK_WEBHOOK_PUBLIC_KEYS = env_list("BANK_WEBHOOK_PUBLIC_KEYS") or _DEV_KEYS.get("public", [])

# --- The simulated bank ----------------------------------------------------------------------
# The simulator mints money (its incoming transfers credit any INN): on by default only in development
# and tests; anywhere else only when asked for, and production refuses its default token.
FAKE_BANK_ENABLED = env_bool("FAKE_BANK_ENABLED", ENVIRONMENT in {"development", "test"})
FAKE_BANK_API_TOKEN = env_str("FAKE_BANK_API_TOKEN", BANK_API_TOKEN)
FAKE_BANK_WEBHOOK_URL = env_str("FAKE_BANK_WEBHOOK_URL", "http://127.0.0.1:8000/api/webhooks/bank/")
FAKE_BANK_SIGNING_KEYS = env_list("FAKE_BANK_SIGNING_KEYS") or _DEV_KEYS.get("private", [])
FAKE_BANK_EXECUTION_DELAY_SECONDS = env_float("FAKE_BANK_EXECUTION_DELAY_SECONDS", 0.5)
FAKE_BANK_WEBHOOK_RETRY_SCALE = env_float("FAKE_BANK_WEBHOOK_RETRY_SCALE", 0.01)
FAKE_BANK_WEBHOOK_TIMEOUT_SECONDS = env_float("FAKE_BANK_WEBHOOK_TIMEOUT_SECONDS", 5.0)
FAKE_BANK_DEFAULT_OUTCOME = env_str("FAKE_BANK_DEFAULT_OUTCOME", "paid")
# The simulator's own sweep (beat): an execution or a delivery attempt due this long ago and not
# done (its task was lost with the broker) is run again.
FAKE_BANK_SWEEP_INTERVAL_SECONDS = env_float("FAKE_BANK_SWEEP_INTERVAL_SECONDS", 10.0)
FAKE_BANK_SWEEP_GRACE_SECONDS = env_float("FAKE_BANK_SWEEP_GRACE_SECONDS", 30.0)
if FAKE_BANK_ENABLED:
    INSTALLED_APPS.append("fake_bank")

# The development inbox for client webhooks (`webhook_inbox/`), mounted at /dev/webhook-inbox/:
# `make run` registers it as the demo organisation's endpoint. Never in production.
WEBHOOK_INBOX_ENABLED = env_bool("WEBHOOK_INBOX_ENABLED", ENVIRONMENT in {"development", "test"})
WEBHOOK_INBOX_URL = env_str("WEBHOOK_INBOX_URL", "http://127.0.0.1:8000/dev/webhook-inbox/receive/")
WEBHOOK_INBOX_SECRET_FILE = Path(
    env_str("WEBHOOK_INBOX_SECRET_FILE", str(BASE_DIR / "var" / "dev-webhook-inbox-secret"))
)
if WEBHOOK_INBOX_ENABLED:
    INSTALLED_APPS.append("webhook_inbox")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL", env_str("REDIS_URL", "redis://127.0.0.1:6379/0")),
    }
}

# --- Metrics (docs/operations.md, "Metrics") ----------------------------------------------------
# Every process of a host writes its samples to files in METRICS_DIR (prometheus-client's
# multiprocess mode, which reads PROMETHEUS_MULTIPROC_DIR when it is first imported: set here, before
# any app loads); `/metrics` adds them up. `make run` empties the directory at start. Off: no files,
# no request metrics, `/metrics` answers 404 (the benchmark's comparison).
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
METRICS_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "") or str(BASE_DIR / "var" / "metrics")
# `Authorization: Bearer <token>` for `/metrics`; empty refuses every request (production requires one).
METRICS_TOKEN = env_str("METRICS_TOKEN", "dev-metrics-token" if ENVIRONMENT == "development" else "")
# Development only: `make seed` creates the operator `ops` with the password kept here (git-ignored).
OPS_PASSWORD_FILE = Path(env_str("OPS_PASSWORD_FILE", str(BASE_DIR / "var" / "ops-password")))
LEDGER_CHECK_INTERVAL_SECONDS = env_float("LEDGER_CHECK_INTERVAL_SECONDS", 600.0)
METRICS_SNAPSHOT_SECONDS = env_float("METRICS_SNAPSHOT_SECONDS", 60.0)
# The overview page's oldest view is a day; snapshots are kept a little longer.
METRICS_SNAPSHOT_RETENTION_HOURS = env_float("METRICS_SNAPSHOT_RETENTION_HOURS", 26.0)


def use_metrics_dir(directory: str) -> None:
    """Point prometheus-client's multiprocess mode at DIRECTORY (created if missing)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    Path(directory).mkdir(parents=True, exist_ok=True)


if METRICS_ENABLED:
    use_metrics_dir(METRICS_DIR)
    MIDDLEWARE = ["payouts.api.metrics.request_metrics", *MIDDLEWARE]

# --- Celery ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 90)
CELERY_TASK_DEFAULT_QUEUE = "payouts"
CELERY_TASK_ROUTES = {
    "fake_bank.*": {"queue": "fake_bank"},
    # Client webhooks have workers of their own: a slow endpoint never delays a payout.
    "payouts.tasks.deliver_webhooks": {"queue": "webhooks"},
    "payouts.tasks.deliver_to_endpoint": {"queue": "webhooks"},
    "payouts.tasks.prune_events": {"queue": "webhooks"},
}
# Longer than the longest countdown we schedule (the submit backoff cap, the simulator's scaled
# webhook retries), so Redis never hands a scheduled task to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish to a dead broker gives up within about three seconds (three tries of a one-second connect
# with short pauses) rather than kombu's default of longer: no HTTP request publishes (a create does
# not; the simulated bank's API does), and the dispatcher simply tries again at its next poll.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 1.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Celery's Django fixup closes the database connection before and after every task unless this is
# set (a new PostgreSQL connection, and a new server process, per task); with it, a worker process
# keeps its connection as a web process does (`config.celery` closes one past DB_CONN_MAX_AGE or
# broken, before and after each task, as Django does around each request).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1_000_000)
CELERY_BEAT_SCHEDULE = {
    "reconcile-payouts": {
        "task": "payouts.tasks.reconcile_payouts",
        "schedule": RECONCILE_INTERVAL_SECONDS,
    },
    "sweep-incoming-transfers": {
        "task": "payouts.tasks.sweep_incoming_transfers",
        "schedule": INCOMING_SWEEP_INTERVAL_SECONDS,
    },
    "deliver-webhooks": {
        "task": "payouts.tasks.deliver_webhooks",
        "schedule": WEBHOOK_POLL_SECONDS,
        # A poll nobody took in time is dropped: the next one does the same work.
        "options": {"expires": max(WEBHOOK_POLL_SECONDS * 5, 5.0)},
    },
    "prune-events": {"task": "payouts.tasks.prune_events", "schedule": 3600.0},
    "complete-payout-batches": {
        "task": "payouts.tasks.complete_payout_batches",
        "schedule": PAYOUT_BATCH_COMPLETE_SECONDS,
    },
    "check-ledger": {"task": "payouts.tasks.check_ledger", "schedule": LEDGER_CHECK_INTERVAL_SECONDS},
    "take-metrics-snapshot": {
        "task": "payouts.tasks.take_metrics_snapshot",
        "schedule": METRICS_SNAPSHOT_SECONDS,
        "options": {"expires": METRICS_SNAPSHOT_SECONDS},
    },
}
if FAKE_BANK_ENABLED:
    CELERY_BEAT_SCHEDULE["fake-bank-sweep"] = {
        "task": "fake_bank.tasks.sweep",
        "schedule": FAKE_BANK_SWEEP_INTERVAL_SECONDS,
    }

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_JSON = env_bool("LOG_JSON", ENVIRONMENT == "production")
from config.logging import build_logging  # noqa: E402

LOGGING = build_logging(json_output=LOG_JSON, level=LOG_LEVEL)
