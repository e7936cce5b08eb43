"""The bench run, stage by stage. Each stage is one function taking the run's `Context`, listed in
`STAGES`: prepare, the API at each size, creates with and without a hot row, query plans, the
payout pipeline with Celery workers and the simulated bank, and the pipeline beside client
webhooks."""

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench import batches, database, pipeline, report, webhooks
from bench.config import BenchConfig, load
from bench.load import Measurements, Request, WrkResult, run_wrk, wrk_binary
from bench.processes import (
    Started,
    beat,
    celery_worker,
    dispatcher,
    flush_redis,
    free_port,
    group_cpu_seconds,
    gunicorn,
    gunicorn_group,
    manage,
    receivers,
)
from bench.profiling import py_spy, top_own_time

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORK_DIR = ROOT / "var" / "bench"
# tests/factories.py VALID_ACCOUNT: an account number whose control key matches the BIC.
RECIPIENT = {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"}
PIPELINE_WARM_UP = 50  # payouts through the pipeline before it is measured
PAYOUT_BODY = json.dumps({"amount": "1.00", "currency": "RUB", "recipient": RECIPIENT})


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    app: str  # "project" or "ceiling"
    request: Request
    ceiling: str | None  # the scenario this one is compared with
    threads: int = 2
    connections: int = 16


@dataclass
class Phase:
    """Everything measured at one table size."""

    rows: int
    scenarios: list[Scenario] = field(default_factory=list)
    results: dict[str, Measurements] = field(default_factory=dict)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    fill_seconds: float = 0.0
    ledger_check: str = "not run at this size (BENCH_LEDGER_CHECK_LARGE=1 runs it)"


@dataclass
class NoHotRow:
    """Creates by one organisation against creates spread over many, in the same rounds."""

    organizations: int = 0
    one: Measurements = field(default_factory=Measurements)
    spread: Measurements = field(default_factory=Measurements)

    @property
    def ratio(self) -> float:
        return self.spread.rps / self.one.rps


@dataclass(frozen=True)
class PipelineRun:
    """One way of feeding the pipeline: what the client did, what the database saw, the CPU used."""

    title: str
    creates: pipeline.Creates
    timings: pipeline.Timings
    cpu_seconds: dict[str, float]  # by component: web, payouts worker, bank worker

    def cpu_ms_per_payout(self, component: str) -> float:
        return self.cpu_seconds[component] * 1000 / self.timings.payouts

    @property
    def cpu_ms_per_payout_total(self) -> float:
        return sum(self.cpu_seconds.values()) * 1000 / self.timings.payouts


@dataclass
class Pipeline:
    throughput: PipelineRun | None = None
    at_rate: PipelineRun | None = None
    rate: int = 0
    ledger_check: str = ""


@dataclass
class Webhooks:
    """Client webhooks beside the pipeline: the runs without and with ten endpoints, and how long
    the answering endpoints' messages took to arrive after each run with them."""

    without: list[PipelineRun] = field(default_factory=list)
    with_endpoints: list[PipelineRun] = field(default_factory=list)
    drains: list[webhooks.Drain] = field(default_factory=list)
    payouts: int = 0
    # Then ten endpoints at a fixed rate below saturation, and how far behind their messages were.
    steady: PipelineRun | None = None
    steady_drain: webhooks.Drain | None = None


@dataclass
class MetricsOverhead:
    """The create scenario against the project's server with metrics on and a second one with them
    off, rounds interleaved; what `/metrics` answered on each."""

    on: Measurements = field(default_factory=Measurements)
    off: Measurements = field(default_factory=Measurements)
    metrics_status: dict[str, int] = field(default_factory=dict)
    rounds: int = 0
    # the web server's CPU (its process group, user + system) per request, each round
    cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {"on": [], "off": []})


@dataclass
class Batches:
    """Batches of payouts: the time to accept each size, and the largest one's items until paid."""

    accepted: list[batches.Accepted] = field(default_factory=list)
    run: PipelineRun | None = None


@dataclass
class Context:
    config: BenchConfig
    stack: ExitStack
    log: Path
    started: datetime
    fill_base: datetime
    project_env: dict[str, str] = field(default_factory=dict)
    ceiling_env: dict[str, str] = field(default_factory=dict)
    seed: dict[str, Any] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    plans: list[dict[str, str]] = field(default_factory=list)
    plans_rows: int = 0
    no_hot_row: NoHotRow = field(default_factory=NoHotRow)
    pipeline: Pipeline = field(default_factory=Pipeline)
    webhooks: Webhooks = field(default_factory=Webhooks)
    batches: Batches = field(default_factory=Batches)
    metrics: MetricsOverhead = field(default_factory=MetricsOverhead)
    profiles: list[str] = field(default_factory=list)
    project_pid: int = 0
    durations: dict[str, float] = field(default_factory=dict)


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)  # noqa: T201


def _django(ctx: Context, env: dict[str, str], *args: str, stdin: Any = None) -> Any:
    """One `python -m bench.django_side` command; its JSON answer."""
    with ctx.log.open("a") as log:
        completed = subprocess.run(  # noqa: S603
            [PYTHON, "-m", "bench.django_side", *args],
            cwd=ROOT,
            env=env,
            input=None if stdin is None else json.dumps(stdin),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"bench.django_side {args[0]} failed; see {ctx.log}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _manage(ctx: Context, *args: str, env: dict[str, str] | None = None) -> str:
    return manage(*args, env=ctx.project_env if env is None else env, log=ctx.log, python=PYTHON)


def _environments(config: BenchConfig) -> tuple[dict[str, str], dict[str, str]]:
    """Production settings, DEBUG off, against the bench database and a Redis database of its own
    (the broker too: no worker runs, tasks queue up and are flushed at the end). The rate limit is
    raised so that the throttle is still consulted on every request but never answers 429."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CACHE_", "CELERY_"))
    }
    shared = {
        **base,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": config.database_url,
        "DB_CONN_MAX_AGE": "60",
        "SECRET_KEY": "bench-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1 localhost testserver",
        "DEBUG": "false",
    }
    project = {
        **shared,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "BANK_API_TOKEN": "bench-token",
        "REDIS_URL": config.redis_url,
        "CACHE_URL": config.redis_url,
        "CELERY_BROKER_URL": config.redis_url,
        "API_RATE_LIMIT": "100000000/minute",
        "METRICS_TOKEN": "bench-metrics-token",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="payouts-bench-metrics-"),
    }
    ceiling = {**shared, "DJANGO_SETTINGS_MODULE": "bench.ceiling.settings"}
    return project, ceiling


# --- Stages --------------------------------------------------------------------------------------


def _project_server(env: dict[str, str], name: str, port: int = 0) -> AbstractContextManager[Started]:
    """The project's web app under gunicorn (`gunicorn_group`), ready on /health/live, its log
    `gunicorn-NAME.log`."""
    return gunicorn_group(
        wsgi_app="config.wsgi:application",
        env=env,
        ready_path="/health/live",
        log=WORK_DIR / f"gunicorn-{name}.log",
        python=PYTHON,
        port=port,
    )


def stage_prepare(ctx: Context) -> None:
    """A fresh database, migrated, seeded through the project's services; the ceiling's tables;
    both servers up."""
    config = ctx.config
    _say(f"database {database.database_name(config.database_url)}: create and migrate")
    database.recreate(config.database_url)
    if not config.keep_database:
        ctx.stack.callback(database.drop, config.database_url)
    _manage(ctx, "migrate", "--noinput")
    ctx.seed = _django(ctx, ctx.project_env, "seed")
    database.create_ceiling_tables(config.database_url, json.dumps(RECIPIENT))
    project = ctx.stack.enter_context(_project_server(ctx.project_env, "project"))
    ctx.urls["project"] = project.url
    ctx.project_pid = project.pgid
    ctx.urls["ceiling"] = ctx.stack.enter_context(
        gunicorn(
            wsgi_app="bench.ceiling.wsgi:application",
            env=ctx.ceiling_env,
            ready_path="/read/",
            log=WORK_DIR / "gunicorn-ceiling.log",
            python=PYTHON,
        )
    )
    _say(f"project on {ctx.urls['project']}, ceiling on {ctx.urls['ceiling']}")


def _scenarios(ctx: Context, deep_path: str) -> list[Scenario]:
    lister, writer, small = ctx.seed["lister"], ctx.seed["writer"], ctx.seed["small"]

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Api-Key {key}"}

    create = Request("POST", "/api/payouts/", auth(writer["key"]), PAYOUT_BODY, unique_key=True)
    balance = f"/api/organizations/{small['inn']}/balance/"
    return [
        Scenario(
            "ceiling-post",
            "ceiling: bare POST, one INSERT",
            "ceiling",
            Request("POST", "/write/", body=PAYOUT_BODY),
            None,
        ),
        Scenario(
            "ceiling-get", "ceiling: bare GET, newest 20 of 10k", "ceiling", Request("GET", "/read/"), None
        ),
        Scenario("create", "create a payout", "project", create, "ceiling-post"),
        Scenario(
            "create-1", "create a payout, 1 connection", "project", create, None, threads=1, connections=1
        ),
        Scenario(
            "list",
            "list, first page",
            "project",
            Request("GET", "/api/payouts/", auth(lister["key"])),
            "ceiling-get",
        ),
        Scenario(
            "list-failed",
            "list `?status=failed` (0.1% of rows)",
            "project",
            Request("GET", "/api/payouts/?status=failed", auth(lister["key"])),
            "ceiling-get",
        ),
        *(
            Scenario(name, title, "project", Request("GET", path, auth(lister["key"])), "ceiling-get")
            for name, title, path in (
                ("list-currency", "list `?currency=RUB` (every row)", "/api/payouts/?currency=RUB"),
                (
                    "list-created",
                    "list `?created_after=...&created_before=...` (every row)",
                    "/api/payouts/?created_after=2000-01-01T00:00:00Z&created_before=2100-01-01T00:00:00Z",
                ),
                (
                    "list-amount-min",
                    "list `?amount_min=9990` (large amounts)",
                    "/api/payouts/?amount_min=9990",
                ),
                (
                    "list-amount-max",
                    "list `?amount_max=1.50` (small amounts)",
                    "/api/payouts/?amount_max=1.50",
                ),
            )
        ),
        Scenario(
            "list-deep",
            "list, a page halfway down the cursor",
            "project",
            Request("GET", deep_path, auth(lister["key"])),
            "ceiling-get",
        ),
        Scenario(
            "balance",
            "balance, small organisation",
            "project",
            Request("GET", balance, auth(small["key"])),
            "ceiling-get",
        ),
        Scenario(
            "history",
            "balance history, small organisation",
            "project",
            Request("GET", balance + "history/", auth(small["key"])),
            "ceiling-get",
        ),
    ]


def _fill_to(ctx: Context, phase: Phase, previous_rows: int) -> None:
    config = ctx.config
    _say(f"fill payouts {previous_rows + 1}..{phase.rows}")
    started = time.monotonic()
    database.fill_payouts(
        config.database_url,
        lister_inn=ctx.seed["lister"]["inn"],
        start=previous_rows + 1,
        stop=phase.rows,
        base=ctx.fill_base,
        recipient_json=json.dumps(RECIPIENT),
    )
    database.vacuum_analyze(config.database_url)
    phase.fill_seconds = time.monotonic() - started
    phase.row_counts = database.row_counts(config.database_url)
    _say(f"filled in {phase.fill_seconds:.0f}s: {phase.row_counts}")
    if phase.rows == config.rows_small or config.ledger_check_large:
        started = time.monotonic()
        output = _manage(ctx, "ledger_check")
        phase.ledger_check = f"{output.strip().splitlines()[-1]} ({time.monotonic() - started:.0f}s)"
        _say(f"ledger_check: {phase.ledger_check}")


def _count_statements(ctx: Context, phase: Phase) -> None:
    for app, env in (("project", ctx.project_env), ("ceiling", ctx.ceiling_env)):
        requests = {
            s.name: s.request.as_json() for s in phase.scenarios if s.app == app and s.name != "create-1"
        }
        phase.statements.update(_django(ctx, env, "count", stdin=requests))
    phase.statements["create-1"] = phase.statements["create"]


def _measure(ctx: Context, phase: Phase) -> None:
    """Rounds interleaved: every scenario once per round, the ceilings among them, so a slow
    minute of the machine hits all scenarios alike."""
    config = ctx.config
    for round_number in range(1, config.rounds + 1):
        for scenario in phase.scenarios:
            profiled = {"web": ctx.project_pid} if scenario.name == "create" else {}
            with _profiled(ctx, f"create-{phase.rows}-r{round_number}", profiled):
                result = run_wrk(
                    base_url=ctx.urls[scenario.app],
                    request=scenario.request,
                    threads=scenario.threads,
                    connections=scenario.connections,
                    seconds=config.seconds,
                    key_prefix=f"{ctx.started:%H%M%S}-{phase.rows}-{scenario.name}-r{round_number}",
                    script_dir=WORK_DIR,
                    log=WORK_DIR / "wrk.log",
                )
            phase.results.setdefault(scenario.name, Measurements()).runs.append(result)
            _say(
                f"{phase.rows} rows, round {round_number}, {scenario.name}: {result.rps:.0f} rps, "
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
            )


def stage_api(ctx: Context) -> None:
    """The HTTP API at each table size: fill, count statements, then the interleaved wrk rounds."""
    previous = 0
    for rows in ctx.config.sizes:
        phase = Phase(rows=rows)
        ctx.phases.append(phase)
        _fill_to(ctx, phase, previous)
        previous = rows
        lister = ctx.seed["lister"]
        deep = _django(ctx, ctx.project_env, "cursor", lister["inn"], lister["key"], str(rows // 2))
        phase.scenarios = _scenarios(ctx, deep["path"])
        _count_statements(ctx, phase)
        _measure(ctx, phase)


def _round(ctx: Context, *, base_url: str, request: Request, key: str) -> WrkResult:
    """One round of `BENCH_SECONDS` at 16 connections (2 wrk threads), its keys unique to KEY."""
    return run_wrk(
        base_url=base_url,
        request=request,
        threads=2,
        connections=16,
        seconds=ctx.config.seconds,
        key_prefix=f"{ctx.started:%H%M%S}-{key}",
        script_dir=WORK_DIR,
        log=WORK_DIR / "wrk.log",
    )


def stage_metrics(ctx: Context) -> None:
    """What metrics cost the create path: two servers started together from the project's settings,
    one with metrics on (the request middleware, every process's samples written to files of its
    own) and one with `METRICS_ENABLED=false` (no middleware, no files, `/metrics` 404), on the same
    database; the create scenario on each in turn, rounds interleaved (their order alternating),
    2 x `BENCH_ROUNDS` rounds, with the web server's CPU per request."""
    config = ctx.config
    on_env = {
        **ctx.project_env,
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="payouts-bench-metrics-on-"),
    }
    off_env = {key: value for key, value in ctx.project_env.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    off_env["METRICS_ENABLED"] = "false"
    writer = ctx.seed["writer"]
    create = Request(
        "POST", "/api/payouts/", {"Authorization": f"Api-Key {writer['key']}"}, PAYOUT_BODY, unique_key=True
    )
    result = ctx.metrics
    result.rounds = 2 * config.rounds
    with ExitStack() as servers_up:
        servers = {
            name: servers_up.enter_context(_project_server(env, f"metrics-{name}"))
            for name, env in (("on", on_env), ("off", off_env))
        }
        token = {"Authorization": f"Bearer {ctx.project_env['METRICS_TOKEN']}"}
        result.metrics_status = {
            name: httpx.get(f"{server.url}/metrics", headers=token, timeout=10).status_code
            for name, server in servers.items()
        }
        for round_number in range(1, result.rounds + 1):
            order = ("on", "off") if round_number % 2 else ("off", "on")
            for name in order:
                cpu_before = group_cpu_seconds(servers[name].pgid)
                measured = _round(
                    ctx, base_url=servers[name].url, request=create, key=f"metrics-{name}-r{round_number}"
                )
                cpu_ms = (
                    (group_cpu_seconds(servers[name].pgid) - cpu_before) * 1000 / max(measured.requests, 1)
                )
                getattr(result, name).runs.append(measured)
                result.cpu_ms[name].append(cpu_ms)
                _say(
                    f"metrics {name}, round {round_number}: {measured.rps:.0f} rps, "
                    f"p50 {measured.p50_ms:.1f} ms, p99 {measured.p99_ms:.1f} ms, "
                    f"web CPU {cpu_ms:.2f} ms/request"
                )


def stage_plans(ctx: Context) -> None:
    """EXPLAIN ANALYZE of the queries that matter, at the largest size."""
    phase = ctx.phases[-1]
    lister, small = ctx.seed["lister"], ctx.seed["small"]
    deep_path = next(s.request.path for s in phase.scenarios if s.name == "list-deep")
    listing = {
        "lister_key": lister["key"],
        "lister_inn": lister["inn"],
        "small_key": small["key"],
        "small_inn": small["inn"],
        "deep_path": deep_path,
    }
    ctx.plans = _django(ctx, ctx.project_env, "explain", stdin=listing)
    ctx.plans_rows = phase.rows


def stage_no_hot_row(ctx: Context) -> None:
    """Creates for one organisation against creates spread round-robin over many funded ones (one
    RUB account each), interleaved in every round, at the largest size."""
    config = ctx.config
    organizations = _django(ctx, ctx.project_env, "seed_many", "50", str(config.spread_organizations))
    ctx.no_hot_row.organizations = len(organizations)
    writer = ctx.seed["writer"]
    one = Request(
        "POST", "/api/payouts/", {"Authorization": f"Api-Key {writer['key']}"}, PAYOUT_BODY, unique_key=True
    )
    spread = Request(
        "POST",
        "/api/payouts/",
        body=PAYOUT_BODY,
        unique_key=True,
        api_keys=tuple(o["key"] for o in organizations),
    )
    for round_number in range(1, config.rounds + 1):
        for name, request, measurements in (
            ("one", one, ctx.no_hot_row.one),
            ("spread", spread, ctx.no_hot_row.spread),
        ):
            result = _round(
                ctx, base_url=ctx.urls["project"], request=request, key=f"hot-row-{name}-r{round_number}"
            )
            measurements.runs.append(result)
            _say(
                f"no hot row, round {round_number}, {name}: {result.rps:.0f} rps, p99 {result.p99_ms:.1f} ms"
            )
    _say(f"no hot row: {len(organizations)} organisations at {ctx.no_hot_row.ratio:.2f} of one's rps")


def _pipeline_environment(ctx: Context, port: int) -> dict[str, str]:
    """The bench's production settings with the simulated bank mounted, on its own database, the
    bank reached on PORT and webhook keys of the run's own: `manage.py fake_bank_keys` writes them to
    a file under var/bench, and they are then passed as the variables production reads."""
    keys_file = WORK_DIR / "pipeline-webhook-keys.json"
    keys_file.unlink(missing_ok=True)
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **ctx.project_env,
        "DATABASE_URL": ctx.config.pipeline_database_url,
        "DEV_WEBHOOK_KEYS_FILE": str(keys_file),
        "FAKE_BANK_ENABLED": "true",
        "BANK_API_URL": f"{base_url}/fake-bank/api",
        "FAKE_BANK_WEBHOOK_URL": f"{base_url}/api/webhooks/bank/",
        "FAKE_BANK_EXECUTION_DELAY_SECONDS": "0",
        "FAKE_BANK_DEFAULT_OUTCOME": "paid",
    }
    _manage(ctx, "fake_bank_keys", env=env)
    keys = json.loads(keys_file.read_text())
    env["BANK_WEBHOOK_PUBLIC_KEYS"] = " ".join(keys["public"])
    env["FAKE_BANK_SIGNING_KEYS"] = " ".join(keys["private"])
    return env


@contextmanager
def _profiled(ctx: Context, name: str, pids: dict[str, int]) -> Iterator[None]:
    """With BENCH_PROFILE=1, py-spy on each of PIDS (with its children) during the block; the
    speedscope files go under var/bench and their top own-time functions into the log."""
    if not ctx.config.profile or not pids:
        yield
        return
    with ExitStack() as spies:
        outputs = {
            component: spies.enter_context(
                py_spy(
                    pid=pid,
                    output=WORK_DIR / f"profile-{name}-{component.replace(' ', '-')}.speedscope.json",
                    log=WORK_DIR / "py-spy.log",
                    python=PYTHON,
                )
            )
            for component, pid in pids.items()
        }
        yield
    for component, output in outputs.items():
        if not output.exists():
            raise RuntimeError(f"py-spy wrote no {output}; see {WORK_DIR / 'py-spy.log'}")
        ctx.profiles.append(str(output.relative_to(ROOT)))
        _say(f"profile {name}, {component}: {output.relative_to(ROOT)}; top own time:")
        for function, share in top_own_time(output):
            _say(f"  {share:6.1%}  {function}")


def _cpu(components: list[Started]) -> dict[str, float]:
    return {started.name: group_cpu_seconds(started.pgid) for started in components}


def _pipeline_run(
    ctx: Context,
    *,
    title: str,
    organization: dict[str, str],
    components: list[Started],
    create: Callable[[], pipeline.Creates],
    count: int,
    profile_workers: bool = False,
) -> PipelineRun:
    config = ctx.config
    workers = {c.name: c.pgid for c in components if profile_workers and c.name != "web"}
    cpu_before = _cpu(components)
    with _profiled(ctx, "pipeline", workers):
        creates = create()
        _say(f"pipeline, {title}: {creates.count} created in {creates.seconds:.1f}s; waiting until paid")
        pipeline.wait_all_paid(
            config.pipeline_database_url,
            inn=organization["inn"],
            count=count,
            timeout=60 + count * 0.25,
            say=_say,
        )
        cpu_after = _cpu(components)
    timings = pipeline.timings(config.pipeline_database_url, organization["inn"])
    run = PipelineRun(
        title=title,
        creates=creates,
        timings=timings,
        cpu_seconds={name: cpu_after[name] - cpu_before[name] for name in cpu_before},
    )
    _say(
        f"pipeline, {title}: {timings.payouts_per_second:.1f} payouts/s end to end, create->paid "
        f"p50 {timings.p50_ms:.0f} ms p99 {timings.p99_ms:.0f} ms, "
        f"CPU {run.cpu_ms_per_payout_total:.1f} ms/payout: "
        + ", ".join(f"{name} {run.cpu_ms_per_payout(name):.1f}" for name in run.cpu_seconds)
    )
    return run


@contextmanager
def _pipeline_stack(
    ctx: Context, *, name: str, organizations: int, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[Started, list[Started], dict[str, str], list[dict[str, str]]]]:
    """The money path on free ports: a database of its own (created, migrated, dropped), the web app
    under gunicorn with the simulated bank mounted, the dispatcher, a payouts worker and the bank's
    worker; ORGANIZATIONS funded organisations, the first warmed up with 50 payouts (fresh processes
    import lazily and connect on first use). Yields (web, components, env, the other organisations)."""
    config = ctx.config
    with ExitStack() as stack:
        database.recreate(config.pipeline_database_url)
        if not config.keep_database:
            stack.callback(database.drop, config.pipeline_database_url)
        flush_redis(config.redis_url)
        stack.callback(flush_redis, config.redis_url)
        port = free_port()
        env = {**_pipeline_environment(ctx, port), **(extra_env or {})}
        _manage(ctx, "migrate", "--noinput", env=env)
        warm_org, *organizations_ = _django(ctx, env, "seed_many", "60", str(organizations + 1))
        web = stack.enter_context(_project_server(env, name, port=port))
        components = [
            web,
            stack.enter_context(dispatcher(env=env, log=WORK_DIR / "dispatcher.log", python=PYTHON)),
        ]
        for worker_name, queue in (("payouts worker", "payouts"), ("bank worker", "fake_bank")):
            components.append(
                stack.enter_context(
                    celery_worker(
                        name=worker_name,
                        queue=queue,
                        concurrency=2,
                        env=env,
                        log=WORK_DIR / f"celery-{queue}.log",
                        python=PYTHON,
                    )
                )
            )
        _say(f"{name}: web on {web.url}, workers up; pids {[c.pgid for c in components]}")
        pipeline.create_burst(
            base_url=web.url,
            api_key=warm_org["key"],
            body=pipeline.payout_body(RECIPIENT, "bench pipeline, warm-up"),
            count=PIPELINE_WARM_UP,
            connections=16,
            key_prefix=f"{ctx.started:%H%M%S}-{name}-warm-up",
        )
        pipeline.wait_all_paid(
            config.pipeline_database_url, inn=warm_org["inn"], count=PIPELINE_WARM_UP, timeout=120, say=_say
        )
        yield web, components, env, organizations_


def stage_pipeline(ctx: Context) -> None:
    """The money path end to end, production-like (`_pipeline_stack`, no beat): first as many creates
    as the API takes, then a fixed rate; each waited for until every payout is `paid`; then
    `ledger_check`."""
    config = ctx.config
    with _pipeline_stack(ctx, name="pipeline", organizations=2) as (web, components, env, organizations):
        burst_org, rate_org = organizations
        prefix = f"{ctx.started:%H%M%S}-pipeline"
        count = config.pipeline_payouts
        ctx.pipeline.throughput = _pipeline_run(
            ctx,
            profile_workers=True,
            title=f"{count} payouts as fast as the API takes them",
            organization=burst_org,
            components=components,
            count=count,
            create=lambda: pipeline.create_burst(
                base_url=web.url,
                api_key=burst_org["key"],
                body=pipeline.payout_body(RECIPIENT, "bench pipeline, throughput"),
                count=count,
                connections=16,
                key_prefix=f"{prefix}-burst",
            ),
        )
        ctx.pipeline.rate = config.pipeline_rate
        at_rate = config.pipeline_rate * config.pipeline_rate_seconds
        ctx.pipeline.at_rate = _pipeline_run(
            ctx,
            title=f"{config.pipeline_rate} payouts/s for {config.pipeline_rate_seconds} s",
            organization=rate_org,
            components=components,
            count=at_rate,
            create=lambda: pipeline.create_at_rate(
                base_url=web.url,
                api_key=rate_org["key"],
                body=pipeline.payout_body(RECIPIENT, "bench pipeline, fixed rate"),
                rate=config.pipeline_rate,
                seconds=config.pipeline_rate_seconds,
                connections=16,
                key_prefix=f"{prefix}-rate",
            ),
        )
        output = _manage(ctx, "ledger_check", env=env)
        ctx.pipeline.ledger_check = output.strip().splitlines()[-1]
        _say(f"pipeline: ledger_check: {ctx.pipeline.ledger_check}")


def stage_webhooks(ctx: Context) -> None:
    """Client webhooks beside the money path: `_pipeline_stack` plus the webhooks worker (as the
    Procfile runs it: `scripts/background-cpu.sh`, threads, `-c 4`) and beat (its poll every
    second). Rounds interleaved: a burst of payouts by an organisation with no endpoint, then one by
    an organisation with ten endpoints subscribed to every event (nine answer 204 at once, one never
    answers: every attempt to it times out after `WEBHOOK_TIMEOUT_SECONDS`); after each, the
    answering endpoints' messages are waited for before the next round, so that a round without
    endpoints runs without webhook work. Then one more organisation with ten endpoints creates
    payouts at a fixed rate below saturation (`BENCH_WEBHOOK_STEADY_RATE` a second), to see whether
    its messages keep pace."""
    config = ctx.config
    rounds = config.webhook_rounds
    count = config.webhook_payouts
    ok_port, dead_port = free_port(), free_port()
    extra_env = {
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",  # the endpoints are on this machine
        # beat runs only the webhooks' poll here: the other schedules are pushed out of the run
        "RECONCILE_INTERVAL_SECONDS": "86400",
        "INCOMING_SWEEP_INTERVAL_SECONDS": "86400",
        "FAKE_BANK_SWEEP_INTERVAL_SECONDS": "86400",
    }
    with (
        _pipeline_stack(ctx, name="webhooks", organizations=2 * rounds + 1, extra_env=extra_env) as (
            web,
            components,
            env,
            organizations,
        ),
        ExitStack() as stack,
    ):
        stack.enter_context(
            receivers(ok_port=ok_port, dead_port=dead_port, log=WORK_DIR / "receivers.log", python=PYTHON)
        )
        components.append(
            stack.enter_context(
                celery_worker(  # as the Procfile runs it
                    name="webhooks worker",
                    queue="webhooks",
                    concurrency=4,
                    env=env,
                    log=WORK_DIR / "celery-webhooks.log",
                    python=PYTHON,
                    threads=True,
                    idle_priority=True,
                )
            )
        )
        schedule = WORK_DIR / "celerybeat-schedule"
        schedule.unlink(missing_ok=True)
        stack.enter_context(beat(env=env, log=WORK_DIR / "beat.log", python=PYTHON, schedule=schedule))
        prefix = f"{ctx.started:%H%M%S}-webhooks"

        def drain(organization: dict[str, str]) -> webhooks.Drain:
            return webhooks.wait_answering_delivered(
                config.pipeline_database_url,
                inn=organization["inn"],
                dead_port=dead_port,
                timeout=config.webhook_drain_timeout,
                say=_say,
            )

        for number in range(rounds):
            plain, subscribed = organizations[2 * number], organizations[2 * number + 1]
            webhooks.register_endpoints(
                base_url=web.url, api_key=subscribed["key"], ok_port=ok_port, dead_port=dead_port
            )
            for with_endpoints, organization in ((False, plain), (True, subscribed)):
                title = f"round {number + 1}, {'ten endpoints' if with_endpoints else 'no endpoint'}"
                run = _pipeline_run(
                    ctx,
                    title=title,
                    organization=organization,
                    components=components,
                    count=count,
                    create=lambda organization=organization, title=title: pipeline.create_burst(
                        base_url=web.url,
                        api_key=organization["key"],
                        body=pipeline.payout_body(RECIPIENT, f"bench webhooks, {title}"),
                        count=count,
                        connections=16,
                        key_prefix=f"{prefix}-{organization['inn']}",
                    ),
                )
                (ctx.webhooks.with_endpoints if with_endpoints else ctx.webhooks.without).append(run)
                if with_endpoints:
                    ctx.webhooks.drains.append(drain(organization))
        ctx.webhooks.payouts = count
        steady = organizations[2 * rounds]
        webhooks.register_endpoints(
            base_url=web.url, api_key=steady["key"], ok_port=ok_port, dead_port=dead_port
        )
        rate, seconds = config.webhook_steady_rate, config.webhook_steady_seconds
        title = f"ten endpoints, {rate} payouts/s for {seconds} s"
        ctx.webhooks.steady = _pipeline_run(
            ctx,
            title=title,
            organization=steady,
            components=components,
            count=rate * seconds,
            create=lambda: pipeline.create_at_rate(
                base_url=web.url,
                api_key=steady["key"],
                body=pipeline.payout_body(RECIPIENT, f"bench webhooks, {title}"),
                rate=rate,
                seconds=seconds,
                connections=16,
                key_prefix=f"{prefix}-{steady['inn']}",
            ),
        )
        ctx.webhooks.steady_drain = drain(steady)
        output = _manage(ctx, "ledger_check", env=env)
        _say(f"webhooks: ledger_check: {output.strip().splitlines()[-1]}")


def stage_batches(ctx: Context) -> None:
    """Batches on the pipeline's stack (`_pipeline_stack`): a CSV of each size in
    `BENCH_BATCH_SIZES` sent in one request (each by an organisation of its own, once the previous
    batch's items are all paid), the time until its 201; the largest batch's items then waited for
    until all are `paid`."""
    config = ctx.config
    sizes = config.batch_sizes
    with _pipeline_stack(ctx, name="batches", organizations=len(sizes)) as (
        web,
        components,
        env,
        organizations,
    ):
        for size, organization in zip(sizes, organizations, strict=True):
            body = batches.csv_file(size, RECIPIENT)
            if size == sizes[-1]:
                accepted: list[batches.Accepted] = []
                ctx.batches.run = _pipeline_run(
                    ctx,
                    title=f"a batch of {size:,} items, accepted then paid",
                    organization=organization,
                    components=components,
                    count=size,
                    create=lambda body=body, organization=organization, accepted=accepted: _batch_creates(
                        web.url, organization, body, accepted
                    ),
                )
                ctx.batches.accepted.append(accepted[0])
            else:
                ctx.batches.accepted.append(
                    batches.send(
                        base_url=web.url, api_key=organization["key"], body=body, key=f"bench-{size}"
                    )
                )
                # The next batch is sent to a stack at rest, not while the workers pay this one.
                pipeline.wait_all_paid(
                    config.pipeline_database_url,
                    inn=organization["inn"],
                    count=size,
                    timeout=60 + size * 0.25,
                    say=_say,
                )
            _say(f"batches: {size:,} items accepted in {ctx.batches.accepted[-1].seconds:.2f} s")
        output = _manage(ctx, "ledger_check", env=env)
        _say(f"batches: ledger_check: {output.strip().splitlines()[-1]}")


def _batch_creates(
    url: str, organization: dict[str, str], body: bytes, accepted: list[batches.Accepted]
) -> pipeline.Creates:
    sent = batches.send(base_url=url, api_key=organization["key"], body=body, key="bench-largest")
    accepted.append(sent)
    return pipeline.Creates(count=sent.items, seconds=sent.seconds)


STAGES: list[Callable[[Context], None]] = [
    stage_prepare,
    stage_api,
    stage_no_hot_row,
    stage_metrics,
    stage_plans,
    stage_pipeline,
    stage_webhooks,
    stage_batches,
]


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the ExitStack: servers stopped, Redis flushed


def machine() -> dict[str, str]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "config", "payouts", "provider", "fake_bank"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if changed:
        commit += " plus uncommitted changes to the code in the working tree"
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version(), "commit": commit}


def main(argv: list[str] | None = None) -> None:
    config = load(argv)
    wrk_binary()
    signal.signal(signal.SIGTERM, _terminate)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    project_env, ceiling_env = _environments(config)
    started = datetime.now(UTC)
    log = WORK_DIR / "bench.log"
    log.write_text("")
    (WORK_DIR / "wrk.log").write_text("")
    for name in (
        "gunicorn-project.log",
        "gunicorn-ceiling.log",
        "gunicorn-pipeline.log",
        "celery-payouts.log",
        "celery-fake_bank.log",
        "celery-webhooks.log",
        "gunicorn-webhooks.log",
        "gunicorn-metrics-on.log",
        "gunicorn-metrics-off.log",
    ):
        (WORK_DIR / name).write_text("")
    with ExitStack() as stack:
        stack.callback(flush_redis, config.redis_url)
        flush_redis(config.redis_url)
        ctx = Context(
            config=config,
            stack=stack,
            log=log,
            started=started,
            fill_base=started - timedelta(hours=1),
            project_env=project_env,
            ceiling_env=ceiling_env,
        )
        # BENCH_STAGES=pipeline,webhooks runs those stages alone (a partial report, for a quick look).
        chosen = {
            f"stage_{name.strip()}" for name in os.environ.get("BENCH_STAGES", "").split(",") if name.strip()
        }
        for stage in STAGES:
            if chosen and stage.__name__ not in chosen:
                continue
            stage_started = time.monotonic()
            stage(ctx)
            ctx.durations[stage.__name__] = time.monotonic() - stage_started
        ctx.durations["total"] = (datetime.now(UTC) - started).total_seconds()
        config.output.parent.mkdir(parents=True, exist_ok=True)
        config.output.write_text(report.render(ctx, machine()))
        _say(f"wrote {config.output} in {ctx.durations['total']:.0f}s; logs in {WORK_DIR}")
