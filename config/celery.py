"""The Celery application: JSON only, late acks, one task reserved at a time, database connections kept
between tasks (see settings)."""

import os
import time
from typing import Any

import structlog
from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("payouts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def _stamp_publication_time(headers: dict[str, Any], **kwargs: Any) -> None:
    """Every message says when it was published: `/metrics` reports each queue's oldest message's age
    (`payouts.observability.state`, which reads this header by the same name)."""
    headers.setdefault("published_at", time.time())


@task_prerun.connect
def _fresh_log_context(task_id: str, task: Any, *args: Any, **kwargs: Any) -> None:
    """A worker runs many tasks in one thread: start each with an empty log context (so a payout id
    bound by one task never shows up in the next one's lines), carrying the task id."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=task.name)
    _close_old_connections(task)


@task_postrun.connect
def _after_task(task_id: str, task: Any, *args: Any, **kwargs: Any) -> None:
    _close_old_connections(task)


def _close_old_connections(task: Any) -> None:
    """Around each task what Django does around each request: a connection that broke or outlived
    `CONN_MAX_AGE` is closed (the next query opens a new one); a sound one is kept for the next task
    (see `CELERY_DB_REUSE_MAX`). Not for a task run eagerly, in its caller's transaction."""
    if not getattr(task.request, "is_eager", False):
        close_old_connections()
