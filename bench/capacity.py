"""`python -m bench.capacity`: 64 concurrent connections against the running `make run` for 30 s,
while the PostgreSQL connections of its database are counted.

Start `make run` first. The run adds (once; later runs reuse them) eight funded organisations
"Bench 90-n LLC" to the development database, so that the load is spread over eight callers and no
answer is a 429 of the per-caller rate limit. Then, at the same time, wrk keeps 16 connections
creating payouts of 1.00 RUB (each with its own Idempotency-Key) and 48 reading the first page of the
payouts list, while a thread counts the database's connections in `pg_stat_activity` every 0.2 s.
It fails when any request failed (a non-2xx answer, a socket error, a timeout) or the connections
went above the budget of docs/operations.md ("Connection budget").
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from bench.load import Request, WrkResult, run_wrk, wrk_binary

ROOT = Path(__file__).resolve().parent.parent
PAYOUT_BODY = json.dumps(
    {
        "amount": "1.00",
        "currency": "RUB",
        "recipient": {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"},
    }
)
ORGANIZATIONS = 8
SAMPLE_SECONDS = 0.2


def _seed(env: dict[str, str]) -> list[dict[str, str]]:
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.django_side", "seed_many", "90", str(ORGANIZATIONS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    organizations: list[dict[str, str]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return organizations


class ConnectionCounter(threading.Thread):
    """Counts the database's backends (any state) until stopped; the peak and the samples."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(database_url, autocommit=True)  # not counted: its own pid
        self.samples: list[int] = []
        self.stopped = threading.Event()

    def count(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
        return int(row[0]) if row else 0

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            self.samples.append(self.count())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--budget", type=int, default=int(os.environ.get("CONNECTION_BUDGET", "25")))
    args = parser.parse_args()
    wrk_binary()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base"),
    }
    database_url = env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payouts")
    keys = tuple(organization["key"] for organization in _seed(env))
    creators = max(1, args.connections // 4)
    readers = args.connections - creators
    create = Request("POST", "/api/payouts/", body=PAYOUT_BODY, unique_key=True, api_keys=keys)
    read = Request("GET", "/api/payouts/", api_keys=keys)

    counter = ConnectionCounter(database_url)
    idle = counter.count()
    counter.start()
    with tempfile.TemporaryDirectory() as scripts, ThreadPoolExecutor(max_workers=2) as pool:
        log = Path(scripts) / "wrk.log"

        def load(request: Request, connections: int, name: str) -> WrkResult:
            return run_wrk(
                base_url=args.url,
                request=request,
                threads=1,
                connections=connections,
                seconds=args.seconds,
                key_prefix=f"capacity-{name}-{time.time_ns()}",
                script_dir=Path(scripts),
                log=log,
                raise_on_errors=False,
            )

        started = time.monotonic()
        results = {
            "create": pool.submit(load, create, creators, "create"),
            "list": pool.submit(load, read, readers, "list"),
        }
        answers = {name: future.result() for name, future in results.items()}
        elapsed = time.monotonic() - started
    counter.stopped.set()
    counter.join()
    counter.conn.close()

    report: dict[str, Any] = {
        "connections": args.connections,
        "seconds": round(elapsed, 1),
        "postgres_connections": {"idle_before": idle, "peak": max(counter.samples), "budget": args.budget},
        "scenarios": {
            name: {
                "connections": creators if name == "create" else readers,
                "requests": result.requests,
                "rps": round(result.rps, 1),
                "p50_ms": round(result.p50_ms, 1),
                "p99_ms": round(result.p99_ms, 1),
                "errors": result.errors,
            }
            for name, result in answers.items()
        },
    }
    print(json.dumps(report, indent=2))  # noqa: T201
    failed = sum(sum(result.errors.values()) for result in answers.values())
    if failed or max(counter.samples) > args.budget:
        raise SystemExit(
            f"{failed} failed requests; peak {max(counter.samples)} connections (budget {args.budget})"
        )


if __name__ == "__main__":
    main()
