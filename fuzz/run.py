"""`make fuzz`: schemathesis against the live app, every operation of its OpenAPI schema.

It starts a stack of its own as `make run` has it, on a free port, a database and a Redis database
of its own: the web app under gunicorn (the simulated bank mounted in it), the dispatcher, the
payouts worker and the bank's worker. It seeds the demo organisation with an API key (`manage.py
seed_demo`) and has the bank fund it in every currency the schema offers (the bank's API announces
an incoming transfer: a signed webhook to the service), so that creates can succeed.

Then `schemathesis run` against `/api/schema/` with the organisation's key: every phase (the schema's
examples, coverage, fuzzing, stateful sequences over the links it infers), valid and invalid data,
with `fuzz.hooks` bringing valid creates within the rules a schema cannot state. It runs again with
the next seed until the app has answered the budget's number of generated requests.

It fails on any 5xx (schemathesis's `not_a_server_error`, and any 5xx in the access log, the bank's
calls and webhooks included) and on any response the schema does not describe (its status code,
content type, headers or body). Requests are counted from gunicorn's access log: every request under
`/api/` but the schema itself and the bank's webhooks. It prints a table and exits non-zero when
anything does not hold. `--requests` sets the budget (FUZZ_REQUESTS, 10,000 by default).
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench import database
from bench.processes import celery_worker, dispatcher, flush_redis, free_port, gunicorn_group, manage
from provider.signatures import generate_keypair

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORK_DIR = ROOT / "var" / "fuzz"
DATABASE_URL = os.environ.get("FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payouts_fuzz")
REDIS_URL = os.environ.get("FUZZ_REDIS_URL", "redis://127.0.0.1:6379/12")
DEMO_INN = "7707083893"  # `manage.py seed_demo`'s organisation
FUNDING = Decimal("1000000000000.00")  # per currency: more than any run's creates can hold
BANK_TOKEN = "fuzz-bank-token"  # noqa: S105 (the run's own simulated bank)
UNLIMITED = "1000000000/minute"
# What fails the run: a 5xx, and any response the schema does not describe.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# One schemathesis worker: with several, Hypothesis parses lambdas' source (`ast.parse`) in
# concurrent threads, which CPython 3.11 answers now and then with "SystemError: AST constructor
# recursion depth mismatch" (python/cpython#106905): an error of the run, not of the app.
WORKERS = 1
ROUNDS_MAX = 20
FUNDING_TIMEOUT_SECONDS = 60
HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})
NOT_FUZZED = ("/api/schema/", "/api/webhooks/bank/")
ACCESS_LOG_FORMAT = "%(s)s %(m)s %(U)s"
ACCESS_LINE = re.compile(r"(?P<status>\d{3}) (?P<method>\S+) (?P<path>.*)")


@dataclass(frozen=True)
class Budget:
    requests: int  # at least this many generated requests answered

    def max_examples(self, operations: int) -> int:
        """schemathesis's --max-examples (per operation and phase) for a round of about REQUESTS
        over the schema's OPERATIONS. A clean round makes some 1.3 test cases per operation and
        example (valid and invalid data, plus the coverage and stateful phases); one that finds a
        failure makes fewer (Hypothesis stops the operation to shrink it), and another round tops
        the count up."""
        return max(5, math.ceil(self.requests / operations / TEST_CASES_PER_EXAMPLE))


TEST_CASES_PER_EXAMPLE = 1.2
FULL = Budget(requests=int(os.environ.get("FUZZ_REQUESTS", "10000")))


@dataclass(frozen=True)
class Request:
    """One line of the access log."""

    status: int
    method: str
    path: str  # decoded, without the query

    @property
    def fuzzed(self) -> bool:
        return self.path.startswith("/api/") and not self.path.startswith(NOT_FUZZED)


@dataclass(frozen=True)
class SchemaPath:
    """A path of the schema: its template, a pattern its requests' paths match, its methods."""

    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str]


def schema_paths(schema: dict[str, Any]) -> list[SchemaPath]:
    return [
        SchemaPath(
            template=template,
            # A parameter is any one segment, as the access log shows it (decoded).
            pattern=re.compile(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))),
            methods=frozenset(method.upper() for method in operations if method.upper() in HTTP_METHODS),
        )
        for template, operations in schema.get("paths", {}).items()
    ]


@dataclass(frozen=True)
class Round:
    """One `schemathesis run`: its seed, exit code and JSON report."""

    seed: int
    exit_code: int
    report: dict[str, Any]

    @property
    def test_cases(self) -> int:
        return int(self.report.get("test_cases", {}).get("generated", 0))

    @property
    def failures(self) -> list[str]:
        failures = [
            f"{failure['title']} ({failure['count']}x: {', '.join(failure['operations'])})"
            for failure in self.report.get("failures", [])
        ]
        errors = [f"{error['title']} ({error['count']}x)" for error in self.report.get("errors", [])]
        return failures + errors


@dataclass
class Outcome:
    budget: Budget
    paths: list[SchemaPath] = field(default_factory=list)  # the schema's
    rounds: list[Round] = field(default_factory=list)
    log: list[Request] = field(default_factory=list)  # the access log from the first round on
    seconds: float = 0.0  # the rounds'

    @property
    def fuzzed(self) -> list[Request]:
        return [request for request in self.log if request.fuzzed]

    @property
    def requests(self) -> int:
        return len(self.fuzzed)

    def operation(self, request: Request) -> str:
        """The schema's operation REQUEST was for, or what it was instead."""
        for path in self.paths:
            if path.pattern.fullmatch(request.path):
                if request.method in path.methods:
                    return f"{request.method} {path.template}"
                return "a method the path does not have"
        return "a path the schema does not have"

    @property
    def creates(self) -> int:
        return sum(1 for r in self.fuzzed if r.status == 201 and self.operation(r) == "POST /api/payouts/")

    @property
    def server_errors(self) -> list[Request]:
        return [request for request in self.log if request.status >= 500]

    @property
    def violations(self) -> list[str]:
        return [failure for one in self.rounds for failure in one.failures]

    def checks(self) -> list[tuple[str, str, bool]]:
        exit_codes = [one.exit_code for one in self.rounds]
        return [
            (
                "generated requests answered",
                f"{self.requests} (budget {self.budget.requests})",
                self.requests >= self.budget.requests,
            ),
            ("responses 5xx (whole access log)", str(len(self.server_errors)), not self.server_errors),
            ("schemathesis failures and errors", str(len(self.violations)), not self.violations),
            ("schemathesis exit codes", str(exit_codes), bool(exit_codes) and not any(exit_codes)),
            ("payouts created (201)", str(self.creates), self.creates > 0),
        ]

    @property
    def ok(self) -> bool:
        return all(passed for _, _, passed in self.checks())

    def table(self) -> str:
        lines = ["| check | figure | |", "|---|---|---|"]
        lines += [f"| {name} | {figure} | {'ok' if ok else 'FAILED'} |" for name, figure, ok in self.checks()]
        statuses = Counter(request.status for request in self.fuzzed)
        operations = Counter(self.operation(request) for request in self.fuzzed)
        lines += [
            "",
            "Statuses: "
            + ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))
            + ".",
            "By operation: "
            + ", ".join(f"{name} x{count}" for name, count in sorted(operations.items()))
            + ".",
            "Rounds: "
            + ", ".join(f"seed {one.seed}, {one.test_cases} test cases" for one in self.rounds)
            + f"; {self.seconds:.0f} s.",
        ]
        lines += [f"- schemathesis: {failure}" for failure in self.violations]
        lines += [f"- 5xx: {r.status} {r.method} {r.path}" for r in self.server_errors[:20]]
        return "\n".join(lines)


def _say(message: str) -> None:
    print(f"[fuzz] {message}", flush=True)  # noqa: T201


def _environment(*, port: int, work_dir: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """Production settings (DEBUG off) with the bank mounted in the web app and reached over HTTP,
    its webhooks back to the same app; rate limits out of the way; every request in the access log."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CACHE_", "CELERY_", "GUNICORN_"))
    }
    base_url = f"http://127.0.0.1:{port}"
    signing_key, public_key = generate_keypair()
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "ENVIRONMENT": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "fuzz-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1 localhost",
        "DEBUG": "false",
        "REDIS_URL": redis_url,
        "CACHE_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "API_RATE_LIMIT": UNLIMITED,
        "API_ANONYMOUS_RATE_LIMIT": UNLIMITED,
        "BANK_WEBHOOK_RATE_LIMIT": UNLIMITED,
        "METRICS_TOKEN": "fuzz-metrics-token",
        "PROMETHEUS_MULTIPROC_DIR": str(work_dir / "metrics"),
        "FAKE_BANK_ENABLED": "true",
        "BANK_API_TOKEN": BANK_TOKEN,
        "BANK_API_URL": f"{base_url}/fake-bank/api",
        "FAKE_BANK_WEBHOOK_URL": f"{base_url}/api/webhooks/bank/",
        # The bank's webhook keys, the run's own (as the e2e tests make them).
        "FAKE_BANK_SIGNING_KEYS": signing_key,
        "BANK_WEBHOOK_PUBLIC_KEYS": public_key,
        "GUNICORN_CMD_ARGS": (
            # The project's gunicorn settings (what the server refuses itself is the envelope too);
            # the bench's command line (workers, bind) overrides the rest.
            "--config config/gunicorn.py "
            f"--access-logfile {work_dir / 'access.log'} --access-logformat '{ACCESS_LOG_FORMAT}'"
        ),
    }


def _manage(env: dict[str, str], log: Path, *args: str) -> str:
    return manage(*args, env=env, log=log, python=PYTHON)


@contextmanager
def _stack(*, work_dir: Path, database_url: str, redis_url: str) -> Iterator[tuple[str, str]]:
    """The stack up and the demo organisation funded; yields the web app's URL and its API key.
    Afterwards the processes are stopped, the database dropped and the Redis database flushed.

    No worker takes the `webhooks` queue: the client webhooks the fuzzer's endpoints subscribe to
    would be sent to whatever URLs it made up; they wait in Redis and go with its flush."""
    port = free_port()
    env = _environment(port=port, work_dir=work_dir, database_url=database_url, redis_url=redis_url)
    log = work_dir / "setup.log"
    with ExitStack() as stack:
        database.recreate(database_url)
        stack.callback(database.drop, database_url)
        flush_redis(redis_url)
        stack.callback(flush_redis, redis_url)
        _manage(env, log, "migrate", "--noinput")
        api_key = _manage(env, log, "seed_demo").strip().splitlines()[-1]
        web = stack.enter_context(
            gunicorn_group(
                wsgi_app="config.wsgi:application",
                env=env,
                ready_path="/health/live",
                log=work_dir / "web.log",
                python=PYTHON,
                port=port,
            )
        )
        stack.enter_context(dispatcher(env=env, log=work_dir / "dispatcher.log", python=PYTHON))
        for queue in ("payouts", "fake_bank"):
            stack.enter_context(
                celery_worker(
                    name=f"fuzz-{queue}",
                    queue=queue,
                    concurrency=2,
                    env=env,
                    log=work_dir / f"worker-{queue}.log",
                    python=PYTHON,
                )
            )
        _fund(web.url, api_key)
        yield web.url, api_key


def _schema(url: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{url}/api/schema/", params={"format": "json"}, timeout=30).json()
    return document


def _fund(url: str, api_key: str) -> None:
    """FUNDING in each currency the schema lets a payout have, sent by the bank as the e2e tests
    have it (`POST /fake-bank/api/incoming-transfers`: a signed webhook to the service), and waited
    for until the balance shows it."""
    currencies: list[str] = _schema(url)["components"]["schemas"]["CurrencyEnum"]["enum"]
    for currency in currencies:
        response = httpx.post(
            f"{url}/fake-bank/api/incoming-transfers",
            headers={"Authorization": f"Bearer {BANK_TOKEN}", "Idempotency-Key": f"fuzz-funding-{currency}"},
            json={
                "payer_inn": DEMO_INN,
                "amount": int(FUNDING * 100),
                "currency": currency,
                "document_number": f"FUZZ-{currency}",
                "document_date": datetime.now(UTC).date().isoformat(),
            },
            timeout=30,
        )
        if response.status_code != 201:
            raise RuntimeError(f"the bank refused to fund {currency}: {response.status_code} {response.text}")
    headers = {"Authorization": f"Api-Key {api_key}"}
    deadline = time.monotonic() + FUNDING_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/api/organizations/{DEMO_INN}/balance/", headers=headers, timeout=10)
        response.raise_for_status()
        funded = {row["currency"] for row in response.json()["balances"] if Decimal(row["posted"]) == FUNDING}
        if funded >= set(currencies):
            _say(f"stack up on {url}; {FUNDING} in each of {', '.join(currencies)}")
            return
        time.sleep(0.2)
    raise RuntimeError(f"the organisation was not funded within {FUNDING_TIMEOUT_SECONDS}s")


def _schemathesis(*, url: str, api_key: str, max_examples: int, seed: int, work_dir: Path) -> Round:
    report = work_dir / f"schemathesis-{seed}.json"
    command = [
        PYTHON,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/api/schema/",
        *("--header", f"Authorization: Api-Key {api_key}"),
        *("--checks", ",".join(CHECKS)),
        *("--max-examples", str(max_examples)),
        *("--seed", str(seed)),
        *("--workers", str(WORKERS)),
        *("--request-timeout", "30"),
        *("--generation-database", "none"),
        *("--report", "json", "--report-json-path", str(report)),
        "--no-color",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "fuzz.hooks"}
    completed = subprocess.run(command, cwd=work_dir, env=env, check=False)  # noqa: S603
    document = json.loads(report.read_text()) if report.exists() else {}
    return Round(seed=seed, exit_code=completed.returncode, report=document)


def _access_log(log: Path, start: int) -> list[Request]:
    """The access log's complete lines from byte START on."""
    with log.open("rb") as handle:
        handle.seek(start)
        lines = handle.read().decode("utf-8", "replace").split("\n")[:-1]
    matches = (ACCESS_LINE.fullmatch(line) for line in lines)
    return [Request(int(m["status"]), m["method"], m["path"]) for m in matches if m is not None]


def run(
    budget: Budget,
    *,
    database_url: str = DATABASE_URL,
    redis_url: str = REDIS_URL,
    work_dir: Path = WORK_DIR,
    seed: int = 1,
) -> Outcome:
    """Fuzz until BUDGET's requests are answered (at most ROUNDS_MAX rounds, each with the next
    seed); the stack is gone afterwards."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*work_dir.glob("*.log"), *work_dir.glob("*.json")]:
        stale.unlink()
    outcome = Outcome(budget=budget)
    with _stack(work_dir=work_dir, database_url=database_url, redis_url=redis_url) as (url, api_key):
        outcome.paths = schema_paths(_schema(url))
        max_examples = budget.max_examples(sum(len(path.methods) for path in outcome.paths))
        access_log = work_dir / "access.log"
        start = access_log.stat().st_size
        started = time.monotonic()
        for number in range(ROUNDS_MAX):
            before = outcome.requests
            _say(
                f"round {number + 1}, seed {seed + number}, --max-examples {max_examples}: "
                f"{outcome.requests} requests so far"
            )
            outcome.rounds.append(
                _schemathesis(
                    url=url, api_key=api_key, max_examples=max_examples, seed=seed + number, work_dir=work_dir
                )
            )
            time.sleep(1)  # gunicorn's last lines of the round
            outcome.log = _access_log(access_log, start)
            if outcome.requests >= budget.requests or outcome.requests == before:
                break  # the budget is spent, or a round that sent nothing would not do better again
        outcome.seconds = time.monotonic() - started
        time.sleep(3)  # the bank's webhooks for the last payouts
        outcome.log = _access_log(access_log, start)
    return outcome


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("--requests", type=int, default=FULL.requests, help="the budget (FUZZ_REQUESTS)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "1")))
    args = parser.parse_args(argv)
    started = time.monotonic()
    outcome = run(Budget(requests=args.requests), seed=args.seed)
    print(f"\n{outcome.table()}\nIn all {time.monotonic() - started:.0f} s.", flush=True)  # noqa: T201
    sys.exit(0 if outcome.ok else 1)
