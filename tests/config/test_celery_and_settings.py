import os
import subprocess
import sys
from typing import Any

import pytest
import structlog
from celery.signals import task_postrun, task_prerun
from django.db import connection

from config.celery import app


def test_celery_is_at_least_once_json_only_one_task_at_a_time() -> None:
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_time_limit and conf.task_soft_time_limit


def test_a_publish_to_a_dead_broker_is_bounded(settings: Any) -> None:
    assert app.conf.broker_connection_timeout == settings.CELERY_BROKER_CONNECTION_TIMEOUT <= 2
    assert app.conf.task_publish_retry_policy["max_retries"] <= 3


def test_visibility_timeout_outlasts_every_countdown_we_schedule(settings: Any) -> None:
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > settings.BANK_SUBMIT_RETRY_MAX_SECONDS
    longest_bank_retry = 86400 * 0.01  # the simulator's last webhook retry at the development scale
    assert visibility > longest_bank_retry


def test_each_task_starts_with_a_fresh_log_context() -> None:
    structlog.contextvars.bind_contextvars(payout_id="left-over-from-another-task")
    task_prerun.send(sender=None, task_id="t-1", task=app.tasks["payouts.tasks.process_payout"])
    context = structlog.contextvars.get_contextvars()
    assert "payout_id" not in context
    assert context["task_id"] == "t-1"
    structlog.contextvars.clear_contextvars()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "s", "DEBUG": "true", "ALLOWED_HOSTS": "example.com"}, "DEBUG"),
        ({"SECRET_KEY": "s", "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "s", "ALLOWED_HOSTS": "example.com"}, "BANK_API_TOKEN"),
        ({"SECRET_KEY": "s", "ALLOWED_HOSTS": "example.com", "FAKE_BANK_ENABLED": "true"}, "BANK_API_TOKEN"),
        (
            {"SECRET_KEY": "s", "ALLOWED_HOSTS": "example.com", "BANK_API_TOKEN": "dev-bank-token"},
            "BANK_API_TOKEN",
        ),
        (
            {
                "SECRET_KEY": "s",
                "ALLOWED_HOSTS": "example.com",
                "BANK_API_TOKEN": "bank-secret",
                "FAKE_BANK_ENABLED": "true",
                "FAKE_BANK_API_TOKEN": "dev-bank-token",
            },
            "FAKE_BANK_ENABLED in production",
        ),
        (
            {"SECRET_KEY": "s", "ALLOWED_HOSTS": "example.com", "BANK_API_TOKEN": "bank-secret"},
            "METRICS_TOKEN",
        ),
    ],
    ids=[
        "no-secret",
        "debug-on",
        "no-hosts",
        "no-bank-token",
        "simulator-without-a-token",
        "the-development-token",
        "simulator-with-the-development-token",
        "no-metrics-token",
    ],
)
def test_production_settings_refuse_to_start_when_unsafe(env: dict[str, str], message: str) -> None:
    unsafe = {
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "BANK_API_TOKEN",
        "FAKE_BANK_ENABLED",
        "FAKE_BANK_API_TOKEN",
        "METRICS_TOKEN",
        "METRICS_ENABLED",
    }
    clean = {k: v for k, v in os.environ.items() if k not in unsafe}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings.production"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_start_when_configured() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "s" * 50,
        "ALLOWED_HOSTS": "payouts.example.com",
        "BANK_API_TOKEN": "bank-secret",
        "METRICS_TOKEN": "metrics-secret",
    }
    env.pop("DEBUG", None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import django; django.setup(); from django.conf import settings as s; "
                "print(s.DEBUG, s.FAKE_BANK_ENABLED, s.LOG_JSON)"
            ),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "True"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_task_to_task(settings: Any) -> None:
    # given a connection opened by one task, young enough to keep (CONN_MAX_AGE 60)
    task = app.tasks["payouts.tasks.reconcile_payouts"]
    connection.settings_dict["CONN_MAX_AGE"] = 60
    try:
        connection.close()
        task_prerun.send(sender=task, task_id="t-1", task=task)
        connection.ensure_connection()
        first = connection.connection
        task_postrun.send(sender=task, task_id="t-1", task=task)

        # when the next task starts
        task_prerun.send(sender=task, task_id="t-2", task=task)

        # then it has the same connection (Celery's fixup would have closed it: see CELERY_DB_REUSE_MAX)
        assert connection.connection is first
        assert app.conf.get("CELERY_DB_REUSE_MAX", 0) >= 1000
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0
        connection.close()


SHOW_SIMULATOR = (
    "import django; django.setup(); from django.conf import settings as s; print(s.FAKE_BANK_ENABLED)"
)


@pytest.mark.parametrize(
    ("environment", "mounted"), [("development", "True"), ("test", "True"), ("staging", "False")]
)
def test_the_simulator_mounts_by_default_only_in_development_and_test(environment: str, mounted: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"FAKE_BANK_ENABLED", "ENVIRONMENT"}}
    result = subprocess.run(  # noqa: S603 (our interpreter and a constant script)
        [
            sys.executable,
            "-c",
            SHOW_SIMULATOR,
        ],
        env={**env, "ENVIRONMENT": environment, "DJANGO_SETTINGS_MODULE": "config.settings.base"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == mounted
