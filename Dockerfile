# Payout service image: web (gunicorn), Celery worker and beat all run from this one image.
#
#   docker build -t payout-service .
#   docker run -e SECRET_KEY=... -e ALLOWED_HOSTS=... -e DATABASE_URL=... -e REDIS_URL=... payout-service
#
# Dependencies come only from the hash-pinned lock file requirements/main.txt; no apt packages
# are needed (psycopg[binary] ships its own libpq).

# --- builder: a virtualenv at /opt/venv, synced from the lock file ---------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never

RUN pip install --no-cache-dir uv==0.13.9

COPY requirements/main.txt /tmp/requirements/main.txt
RUN uv venv --python /usr/local/bin/python3.11 /opt/venv \
    && uv pip sync --python /opt/venv/bin/python --require-hashes /tmp/requirements/main.txt

# --- runtime ---------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    WEB_BIND=0.0.0.0:8000 \
    WEB_CONCURRENCY=2 \
    WEB_THREADS=8 \
    WEB_ACCESS_LOG=-

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
# The source stays owned by root (read-only for the app user); only var/ (the simulator's
# development webhook keys, a volume in docker-compose.yml) and metrics/ (each process's metrics
# files, shared by a host's containers as a volume) are writable.
COPY . /app

# collectstatic needs no secrets: the base settings with a throwaway key, nothing connects.
RUN DJANGO_SETTINGS_MODULE=config.settings.base SECRET_KEY=collectstatic-only-not-a-secret METRICS_ENABLED=false \
        python manage.py collectstatic --noinput \
    && mkdir -p /app/var /app/metrics \
    && chown 10001:10001 /app/var /app/metrics

ENV PROMETHEUS_MULTIPROC_DIR=/app/metrics

USER 10001:10001

EXPOSE 8000

# No curl in slim: ask /health/live with urllib. Send the first ALLOWED_HOSTS entry as the Host
# header so Django's host validation accepts the request whatever the deployment's hosts are.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = (os.environ.get('ALLOWED_HOSTS', '').replace(',', ' ').split() or ['localhost'])[0].lstrip('.'); h = 'localhost' if h in ('', '*') else h; u.urlopen(u.Request('http://127.0.0.1:8000/health/live', headers={'Host': h}), timeout=4)"]

# gunicorn's settings: config/gunicorn.py (WEB_CONCURRENCY processes x WEB_THREADS threads).
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
