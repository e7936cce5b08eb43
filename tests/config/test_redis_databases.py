"""The tests' cache and broker live in the test Redis database, never in database 0, the one
`make run` uses: tests flush the cache (FLUSHDB) and purge the broker's queues."""

import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache import cache

from config.celery import app


def _database(url: str) -> int:
    return int(redis.ConnectionPool.from_url(url).connection_kwargs.get("db", 0))


def test_cache_and_broker_are_not_redis_database_zero() -> None:
    # given the test settings
    cache_url = settings.CACHES["default"]["LOCATION"]
    # then
    assert _database(cache_url) != 0, cache_url
    assert _database(settings.CELERY_BROKER_URL) != 0, settings.CELERY_BROKER_URL
    assert _database(app.conf.broker_url) != 0, app.conf.broker_url
    assert _database(cache_url) == _database(settings.CELERY_BROKER_URL)


def test_cache_writes_to_the_test_redis_database_only() -> None:
    # given
    test_url = settings.CACHES["default"]["LOCATION"]
    test_db = redis.Redis.from_url(test_url)
    development_db = redis.Redis.from_url(urlsplit(test_url)._replace(path="/0", query="").geturl())
    key = f"redis-databases-{uuid.uuid4()}"
    stored_as = cache.make_and_validate_key(key)
    try:
        # when
        cache.set(key, "written by the tests", timeout=60)
        # then
        assert test_db.exists(stored_as) == 1
        assert development_db.exists(stored_as) == 0
    finally:
        cache.delete(key)
        test_db.close()
        development_db.close()


def _test_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import django; django.setup(); from django.conf import settings as s; "
                "print(s.CACHES['default']['LOCATION'], s.CELERY_BROKER_URL)"
            ),
        ],
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_development_redis_variables_do_not_reach_the_test_settings() -> None:
    # given the variables a development shell exports
    development = "redis://127.0.0.1:6379/0"
    env = {
        "REDIS_URL": development,
        "CACHE_URL": development,
        "CELERY_BROKER_URL": development,
        "TEST_REDIS_URL": "redis://127.0.0.1:6379/7",
    }
    # when
    result = _test_settings(env)
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/7", "redis://127.0.0.1:6379/7"]


def test_test_settings_refuse_redis_database_zero() -> None:
    # when
    result = _test_settings({"TEST_REDIS_URL": "redis://127.0.0.1:6379/0"})
    # then
    assert result.returncode != 0
    assert "TEST_REDIS_URL" in result.stderr
