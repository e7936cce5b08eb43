"""Settings of the ceiling app: DEBUG off, no middleware, no installed apps, the bench database."""

import os

import dj_database_url

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-ceiling-secret-key")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.ceiling.urls"
WSGI_APPLICATION = "bench.ceiling.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"], conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60"))
    )
}
