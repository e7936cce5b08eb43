"""What one bench run does, read from the environment (and `--smoke`) in one place."""

import argparse
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchConfig:
    rows_small: int
    rows_large: int  # 0: no large phase
    seconds: int  # per wrk run
    rounds: int
    output: Path
    database_url: str
    redis_url: str
    keep_database: bool
    ledger_check_large: bool
    note: str
    smoke: bool
    spread_organizations: int  # the no-hot-row stage: creates spread over this many organisations
    pipeline_database_url: str  # the pipeline's own database, small, so ledger_check is quick
    pipeline_payouts: int  # created as fast as the API allows, then waited for until paid
    pipeline_rate: int  # payouts a second at the fixed rate
    pipeline_rate_seconds: int
    profile: bool  # py-spy on the web workers (create) and the Celery workers (pipeline)
    webhook_rounds: int  # client webhooks: interleaved rounds of (no endpoint, ten endpoints)
    webhook_payouts: int  # payouts per round
    webhook_drain_timeout: float  # seconds to wait for the answering endpoints after a round
    webhook_steady_rate: int  # then ten endpoints at this many payouts a second ...
    webhook_steady_seconds: int  # ... for this long: do the messages keep pace below saturation?
    batch_sizes: list[int]  # batches sent in one request each; the last is also waited for until paid

    @property
    def sizes(self) -> list[int]:
        return [size for size in (self.rows_small, self.rows_large) if size > 0]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw else default


def load(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny tables, one 3-second round (~30 s), output under var/"
    )
    args = parser.parse_args(argv)
    smoke: bool = args.smoke
    default_output = "var/bench/benchmarks-smoke.md" if smoke else "docs/benchmarks.md"
    return BenchConfig(
        rows_small=_int("BENCH_ROWS_SMALL", 200 if smoke else 10_000),
        rows_large=_int("BENCH_ROWS_LARGE", 0 if smoke else 1_000_000),
        seconds=_int("BENCH_SECONDS", 3 if smoke else 10),
        rounds=_int("BENCH_ROUNDS", 1 if smoke else 2),
        output=Path(os.environ.get("BENCH_OUTPUT", default_output)),
        database_url=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payouts_bench"),
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        keep_database=os.environ.get("BENCH_KEEP_DB", "") not in {"", "0"},
        ledger_check_large=os.environ.get("BENCH_LEDGER_CHECK_LARGE", "") not in {"", "0"},
        note=os.environ.get("BENCH_NOTE", ""),
        smoke=smoke,
        spread_organizations=_int("BENCH_SPREAD_ORGANIZATIONS", 50),
        pipeline_database_url=os.environ.get(
            "BENCH_PIPELINE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payouts_bench_pipeline"
        ),
        pipeline_payouts=_int("BENCH_PIPELINE_PAYOUTS", 100 if smoke else 2000),
        pipeline_rate=_int("BENCH_PIPELINE_RATE", 20),
        pipeline_rate_seconds=_int("BENCH_PIPELINE_RATE_SECONDS", 5 if smoke else 30),
        profile=os.environ.get("BENCH_PROFILE", "") not in {"", "0"},
        webhook_rounds=_int("BENCH_WEBHOOK_ROUNDS", 1 if smoke else 2),
        webhook_payouts=_int("BENCH_WEBHOOK_PAYOUTS", 50 if smoke else 500),
        webhook_drain_timeout=float(_int("BENCH_WEBHOOK_DRAIN_SECONDS", 60 if smoke else 300)),
        webhook_steady_rate=_int("BENCH_WEBHOOK_STEADY_RATE", 10),
        webhook_steady_seconds=_int("BENCH_WEBHOOK_STEADY_SECONDS", 5 if smoke else 30),
        batch_sizes=[
            int(size)
            for size in os.environ.get("BENCH_BATCH_SIZES", "10 100" if smoke else "1000 10000").split()
        ],
    )
