"""The Celery application: JSON only, late acks, one task reserved at a time (see settings)."""

import os
from typing import Any

import structlog
from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("payouts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _fresh_log_context(task_id: str, task: Any, *args: Any, **kwargs: Any) -> None:
    """A worker runs many tasks in one thread: start each with an empty log context (so a payout id
    bound by one task never shows up in the next one's lines), carrying the task id."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=task.name)
