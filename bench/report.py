"""docs/benchmarks.md from one run's measurements."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.load import Measurements
    from bench.run import Batches, Context, MetricsOverhead, NoHotRow, Phase, Pipeline, PipelineRun, Webhooks
    from bench.webhooks import Drain

# The targets the stages are held to.
CREATE_MIN_RATIO = 0.45  # create rps against the bare POST's
LIST_MIN_RATIO = 0.60  # first page rps against the bare GET's, at the small size
MAX_GROWTH = 1.20  # p50 at the large size against p50 at the small one
CREATE_MAX_STATEMENTS = 8
LIST_MAX_STATEMENTS = 3
GROWTH_SCENARIOS = (
    "list",
    "list-failed",
    "list-currency",
    "list-created",
    "list-amount-min",
    "list-amount-max",
    "list-deep",
    "balance",
    "history",
)
SPREAD_WITHIN = 0.10  # 50-organisation create rps within 10% of one organisation's
PIPELINE_MIN_PAYOUTS_PER_SECOND = 100.0
PIPELINE_MAX_P99_MS_AT_RATE = 1000.0
PIPELINE_MAX_CPU_MS_PER_PAYOUT = 20.0
WEBHOOKS_MIN_RATIO = 0.90  # pipeline rate with ten endpoints (one silent) against none
BATCH_MAX_ACCEPT_SECONDS = 5.0  # a 10,000-item batch answered 201 within this
METRICS_MAX_COST = 0.05  # metrics on may cost the create path at most this share of its rate


def _rows(rows: int) -> str:
    return f"{rows:,}"


def _table(phase: "Phase") -> list[str]:
    lines = [
        (
            "| scenario | wrk | rps, mean (min-max) | p50 ms | p99 ms | statements / request "
            "| ratio to ceiling |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in phase.scenarios:
        result = phase.results[scenario.name]
        ratio = "—"
        if scenario.ceiling is not None:
            ratio = f"{result.rps / phase.results[scenario.ceiling].rps:.2f}"
        statements = phase.statements[scenario.name]["statements"]
        lines.append(
            f"| {scenario.title} | -t{scenario.threads} -c{scenario.connections} "
            f"| {result.rps:,.0f} ({result.rps_min:,.0f}-{result.rps_max:,.0f}) "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {statements} | {ratio} |"
        )
    return lines


def _statements(phase: "Phase") -> list[str]:
    lines: list[str] = []
    for scenario in phase.scenarios:
        if scenario.name == "create-1":
            continue
        counted = phase.statements[scenario.name]
        by_command = ", ".join(f"{tag} {n}" for tag, n in sorted(counted["by_command"].items()))
        lines += [
            (
                f"**{scenario.title}** (`{scenario.request.method} {scenario.request.path[:60]}`): "
                f"{counted['statements']} statements ({by_command}); Django's own count: "
                f"{counted['django_queries']}."
            ),
            "",
        ]
        if counted["sql"]:
            lines += ["```sql", *(sql[:160] for sql in counted["sql"]), "```", ""]
    return lines


def _met(met: bool) -> str:
    return "met" if met else "**not met**"


def _targets(ctx: "Context") -> list[str]:
    """The targets that the API scenarios are held to, each with its figure from this run; a target
    not met says so (why: docs/design.md, "Speed")."""
    if not ctx.phases:
        return []
    small, large = ctx.phases[0], ctx.phases[-1]
    lines = ["## Targets", ""]

    def ratio(phase: "Phase", name: str) -> float:
        scenario = next(s for s in phase.scenarios if s.name == name)
        return phase.results[name].rps / phase.results[scenario.ceiling or name].rps

    create = ratio(small, "create")
    first_page = ratio(small, "list")
    create_statements = small.statements["create"]["statements"]
    list_statements = max(
        small.statements[name]["statements"] for name in GROWTH_SCENARIOS if name.startswith("list")
    )
    size = f"{_rows(small.rows)} rows"
    checks = [
        (
            f"Create at least {CREATE_MIN_RATIO:.2f} of the bare POST's rps ({size})",
            create,
            CREATE_MIN_RATIO,
            True,
        ),
        (
            f"List, first page, at least {LIST_MIN_RATIO:.2f} of the bare GET's rps ({size})",
            first_page,
            LIST_MIN_RATIO,
            True,
        ),
        (
            f"At most {CREATE_MAX_STATEMENTS} statements per create, BEGIN and COMMIT included",
            create_statements,
            CREATE_MAX_STATEMENTS,
            False,
        ),
        (
            f"At most {LIST_MAX_STATEMENTS} statements per list page",
            list_statements,
            LIST_MAX_STATEMENTS,
            False,
        ),
    ]
    for text, figure, bound, at_least in checks:
        met = figure >= bound if at_least else figure <= bound
        shown = f"{figure:.2f}" if isinstance(figure, float) else str(figure)
        lines.append(f"- {text}: {shown}, {_met(met)}")
    if large is not small:
        ceiling_growth = large.results["ceiling-get"].p50_ms / small.results["ceiling-get"].p50_ms
        lines.append(
            f"- p50 at {_rows(large.rows)} rows at most {MAX_GROWTH:.1f} times p50 at {_rows(small.rows)} "
            f"(the bare GET, whose table does not grow, changed by {ceiling_growth:.2f} between the two "
            "phases: the machine's own drift; each figure is also shown divided by it):"
        )
        for name in GROWTH_SCENARIOS:
            scenario = next(s for s in small.scenarios if s.name == name)
            growth = large.results[name].p50_ms / small.results[name].p50_ms
            lines.append(
                f"  - {scenario.title}: {growth:.2f} ({growth / ceiling_growth:.2f} against the bare GET's "
                f"drift), {_met(growth <= MAX_GROWTH)}"
            )
    lines += [
        "",
        (
            "The peer in the issue (a public DRF payout service) is not run here; the create target is "
            "held against the bare view only. Why a target is not met, and what would meet it: "
            "[design.md](design.md#speed)."
        ),
        "",
    ]
    return lines


def _no_hot_row(result: "NoHotRow", rows: int) -> list[str]:
    def line(title: str, measured: "Measurements") -> str:
        return (
            f"| {title} | {measured.rps:,.0f} ({measured.rps_min:,.0f}-{measured.rps_max:,.0f}) "
            f"| {measured.p50_ms:.1f} | {measured.p99_ms:.1f} |"
        )

    return [
        f"## No hot row: creates for {result.organizations} organisations",
        "",
        (
            f"At {_rows(rows)} payouts, `wrk -t2 -c16`, the two runs interleaved in each round: every "
            "create made with the API key of one organisation (the create scenario above), against "
            f"creates spread round-robin over {result.organizations} funded organisations (the wrk "
            "script holds their keys; each thread starts at its own offset). One currency, RUB."
        ),
        "",
        "| creates by | rps, mean (min-max) | p50 ms | p99 ms |",
        "|---|---|---|---|",
        line("one organisation", result.one),
        line(f"{result.organizations} organisations", result.spread),
        "",
        (
            f"Ratio {result.organizations} organisations / one: **{result.ratio:.2f}**. Target: within "
            f"{SPREAD_WITHIN:.0%} of one organisation's rps (ratio ≥ {1 - SPREAD_WITHIN:.2f}): "
            f"{_met(result.ratio >= 1 - SPREAD_WITHIN)}."
        ),
        "",
    ]


def _pipeline_row(run: "PipelineRun") -> str:
    t = run.timings
    cpu = " | ".join(f"{run.cpu_ms_per_payout(name):.1f}" for name in run.cpu_seconds)
    return (
        f"| {run.title} | {t.payouts:,} | {run.creates.count / run.creates.seconds:,.0f} "
        f"| {t.payouts_per_second:,.1f} | {t.p50_ms:,.0f} | {t.p99_ms:,.0f} | {t.max_ms:,.0f} "
        f"| {cpu} | {run.cpu_ms_per_payout_total:.1f} |"
    )


def _pipeline(result: "Pipeline") -> list[str]:
    throughput, at_rate = result.throughput, result.at_rate
    if throughput is None or at_rate is None:
        return ["## Pipeline", "", "Not run.", ""]
    components = " | ".join(f"CPU ms/payout, {name}" for name in throughput.cpu_seconds)
    return [
        "## Pipeline: create to paid, end to end",
        "",
        (
            "The whole money path on free ports, production-like: the web app under gunicorn (the same "
            "settings and 4 sync workers as above) with the simulated bank mounted (`FAKE_BANK_ENABLED`, "
            "execution delay 0, webhook keys of the run's own), a Celery worker on `payouts` and the "
            "simulated bank's on `fake_bank` (`-c 2` each, prefork, log level INFO as in the Procfile), "
            "no beat. Broker: the bench's Redis database, flushed before and after. A database of its "
            "own (created, migrated, dropped). Every payout goes to an account the simulator pays "
            "(its default policy), each batch by an organisation of its own; the bench waits until all "
            "are `paid` and fails if one is not. 50 payouts go through first, unmeasured, to warm the "
            "processes up (lazy imports, first connections)."
        ),
        "",
        (
            "Throughput: creates by 16 keep-alive client threads as fast as the API answers; payouts/s "
            "end to end is payouts / (last `paid_at` - first `created_at`). Fixed rate: creates sent on "
            "a schedule (an open loop). create→paid is `paid_at - created_at` from the database. CPU: "
            "utime + stime from `/proc/<pid>/stat` of every process of each component's process group "
            "(reaped children included), read before the first create and after the last `paid`, "
            "divided by the payouts."
        ),
        "",
        (
            f"| run | payouts | creates/s | payouts/s end to end | create→paid p50 ms | p99 ms | max ms "
            f"| {components} | CPU ms/payout, total |"
        ),
        "|---|---|---|---|---|---|---|" + "---|" * len(throughput.cpu_seconds) + "---|",
        _pipeline_row(throughput),
        _pipeline_row(at_rate),
        "",
        f"Creates at the fixed rate left at most {at_rate.creates.late_max_ms:.0f} ms after their time.",
        f"`ledger_check` afterwards: {result.ledger_check}.",
        "",
        "Targets:",
        "",
        (
            f"- ≥ {PIPELINE_MIN_PAYOUTS_PER_SECOND:.0f} payouts/s sustained: "
            f"{throughput.timings.payouts_per_second:.1f}, "
            f"{_met(throughput.timings.payouts_per_second >= PIPELINE_MIN_PAYOUTS_PER_SECOND)}."
        ),
        (
            f"- p99 create→paid ≤ {PIPELINE_MAX_P99_MS_AT_RATE:.0f} ms at {result.rate}/s: "
            f"{at_rate.timings.p99_ms:.0f} ms, {_met(at_rate.timings.p99_ms <= PIPELINE_MAX_P99_MS_AT_RATE)}."
        ),
        (
            f"- CPU ≤ {PIPELINE_MAX_CPU_MS_PER_PAYOUT:.0f} ms per payout in total (throughput run): "
            f"{throughput.cpu_ms_per_payout_total:.1f} ms, "
            f"{_met(throughput.cpu_ms_per_payout_total <= PIPELINE_MAX_CPU_MS_PER_PAYOUT)}."
        ),
        "",
    ]


def _webhooks(result: "Webhooks") -> list[str]:
    if not result.without or not result.with_endpoints:
        return ["## Pipeline beside client webhooks", "", "Not run.", ""]
    components = " | ".join(f"CPU ms/payout, {name}" for name in result.without[0].cpu_seconds)
    rows = []
    for plain, subscribed in zip(result.without, result.with_endpoints, strict=True):
        rows += [_pipeline_row(plain), _pipeline_row(subscribed)]
    without = sum(run.timings.payouts_per_second for run in result.without) / len(result.without)
    with_endpoints = sum(run.timings.payouts_per_second for run in result.with_endpoints) / len(
        result.with_endpoints
    )
    ratio = with_endpoints / without
    drains = [f"round {number}: {_drain(drain)}" for number, drain in enumerate(result.drains, start=1)]
    if result.steady is not None and result.steady_drain is not None:
        rows.append(_pipeline_row(result.steady))
        drains.append(f"{result.steady.title}: {_drain(result.steady_drain)}")
    return [
        "## Pipeline beside client webhooks",
        "",
        (
            "The pipeline's stack (above) plus the client webhooks' worker as the Procfile runs it "
            "(`scripts/background-cpu.sh`: the lowest CPU priority, threads, `-c 4`) and beat (its "
            "one-second poll; the other schedules pushed out of the run). Each round: a burst of payouts"
            " by an organisation with no endpoint, then one by an organisation with ten endpoints "
            "subscribed to every event (four events a payout, so forty messages): nine answer 204 at "
            "once (a threaded server on this machine, at the lowest priority too: it stands for the "
            "clients' machines), one accepts the connection and never "
            "answers, so every attempt to it waits out the 15-second timeout. After each round with "
            "endpoints, the bench waits until the answering endpoints have every message before the next "
            "round, so that a round without endpoints runs without webhook work. CPU columns as above; "
            "the webhooks worker's CPU is counted from the start of each round to its last `paid`, its "
            "backlog after that is not. Last, one more organisation with ten endpoints (the same nine "
            "and one) creates payouts at a fixed rate below the pipeline's saturation: whether the "
            "messages keep pace when the money path leaves the CPU some room."
        ),
        "",
        (
            f"| run | payouts | creates/s | payouts/s end to end | create→paid p50 ms | p99 ms | max ms "
            f"| {components} | CPU ms/payout, total |"
        ),
        "|---|---|---|---|---|---|---|" + "---|" * len(result.without[0].cpu_seconds) + "---|",
        *rows,
        "",
        *(f"- {line}" for line in drains),
        "",
        (
            f"Target: with ten endpoints, one of them silent, the pipeline's rate within "
            f"{1 - WEBHOOKS_MIN_RATIO:.0%} of its rate with none: {with_endpoints:.1f} against "
            f"{without:.1f} payouts/s (means of the rounds), {ratio:.2f}, "
            f"{_met(ratio >= WEBHOOKS_MIN_RATIO)}."
        ),
        "",
    ]


def _drain(drain: "Drain") -> str:
    if drain.seconds is None:
        delivered = "not all delivered within the wait"
    else:
        delivered = (
            f"all delivered {drain.seconds:.0f} s after the last payout was paid (from event to "
            f"delivery: p50 {drain.lag_p50_seconds:.1f} s, max {drain.lag_max_seconds:.1f} s)"
        )
    return (
        f"{drain.delivered:,} messages to the nine answering endpoints, {delivered}; the silent "
        f"endpoint had {drain.silent_attempts} attempts by then"
    )


def _batches(result: "Batches") -> list[str]:
    if not result.accepted or result.run is None:
        return ["## Batches", "", "Not run.", ""]
    largest = result.accepted[-1]
    run = result.run
    components = " | ".join(f"CPU ms/payout, {name}" for name in run.cpu_seconds)
    return [
        "## Batches",
        "",
        (
            "The pipeline's stack (above, no webhooks). Each batch is a CSV file of 1.00 RUB items to "
            "the account the simulator pays, sent (once the previous batch's items are all paid) "
            "by an organisation of its own in one `POST "
            "/api/payout-batches/` (`text/csv`); accepted is the time from the request to its 201, "
            "every item then written with its hold and events. The largest batch's items are then "
            "waited for until every one is `paid` (the simulator paying at once, the workers as in the "
            "pipeline)."
        ),
        "",
        "| items | CSV bytes | accepted in |",
        "|---|---|---|",
        *(f"| {sent.items:,} | {sent.bytes:,} | {sent.seconds:.2f} s |" for sent in result.accepted),
        "",
        (
            f"| run | payouts | creates/s | payouts/s end to end | create→paid p50 ms | p99 ms | max ms "
            f"| {components} | CPU ms/payout, total |"
        ),
        "|---|---|---|---|---|---|---|" + "---|" * len(run.cpu_seconds) + "---|",
        _pipeline_row(run),
        "",
        (
            f"The {largest.items:,}-item batch: accepted in {largest.seconds:.2f} s, every item paid "
            f"{run.timings.last_paid - run.timings.first_created:.0f} s after the first was created. "
            f"Target: accepted within {BATCH_MAX_ACCEPT_SECONDS:.0f} s: "
            f"{_met(largest.seconds <= BATCH_MAX_ACCEPT_SECONDS)}."
        ),
        "",
    ]


def _metrics(result: "MetricsOverhead") -> list[str]:
    if not result.on.runs or not result.off.runs:
        return ["## Metrics on and off", "", "Not run.", ""]
    cost = 1 - result.on.rps / result.off.rps
    cpu = {name: sum(values) / len(values) for name, values in result.cpu_ms.items() if values}
    rows = [
        f"| metrics {name} | {m.rps:.0f} | {m.rps_min:.0f}-{m.rps_max:.0f} | {m.p50_ms:.1f} "
        f"| {m.p99_ms:.1f} | {cpu.get(name, 0):.2f} |"
        for name, m in (("on", result.on), ("off", result.off))
    ]
    return [
        "## Metrics on and off",
        "",
        (
            "The create scenario (16 connections) against two servers started together from the "
            "project's settings: one with metrics on (the request middleware and every business "
            "counter written to the processes' files), one with `METRICS_ENABLED=false`; the same "
            "database; "
            f"{result.rounds} rounds, on and off in turn (their order alternating). `/metrics` answered "
            f"{result.metrics_status.get('on')} on the first and {result.metrics_status.get('off')} on "
            "the second."
        ),
        "",
        "| server | rps (mean) | rps (min-max) | p50 ms | p99 ms | web CPU ms/request |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        (
            f"The web server's CPU per create (its process group, user and system, over each round): "
            f"{cpu.get('on', 0):.2f} ms with metrics, {cpu.get('off', 0):.2f} ms without, "
            f"{cpu.get('on', 0) - cpu.get('off', 0):+.2f} ms "
            f"({(cpu.get('on', 0) / cpu['off'] - 1) if cpu.get('off') else 0:+.1%})."
        ),
        "",
        (
            (
                f"Metrics cost the create path {cost:.1%} of its rate "
                if cost > 0
                else f"The server with metrics answered {-cost:.1%} more creates a second than the one "
                "without: no cost shows through this machine's round-to-round spread "
            )
            + f"(on/off {result.on.rps / result.off.rps:.3f}). "
            f"Target: at most {METRICS_MAX_COST:.0%}: {_met(cost <= METRICS_MAX_COST)}."
        ),
        "",
    ]


def render(ctx: "Context", machine: dict[str, str]) -> str:
    config = ctx.config
    sizes = " and ".join(_rows(phase.rows) for phase in ctx.phases)
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`.venv/bin/python -m bench`); do not edit by hand, run it again.",
        "`make bench-smoke` is the same run at toy sizes, written to `var/bench/`.",
        "",
        f"- Date: {ctx.started:%Y-%m-%d %H:%M} UTC; the run took {ctx.durations['total'] / 60:.1f} min.",
        (
            f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}); wrk, gunicorn and PostgreSQL share "
            "them, so compare the ratios (each against a ceiling measured in the same rounds), not raw rps."
        ),
        f"- Code: commit {machine['commit']}, Python {machine['python']}.",
    ]
    if config.note:
        out.append(f"- {config.note}")
    out += [
        "",
        "## How it is measured",
        "",
        (
            "- The project runs under gunicorn as in production: `config.settings.production`, DEBUG off, "
            "4 sync workers, no access log, persistent database connections (`DB_CONN_MAX_AGE=60`), "
            "logging at INFO to a file. The rate limit is raised (the throttle still runs on every request). "
            "No dispatcher and no Celery worker run in these scenarios (a create never touches the "
            "broker; the payouts stay `new`); the pipeline below runs them."
        ),
        (
            "- The ceiling is a bare Django app (`bench/ceiling/`) under the same gunicorn settings, on the "
            "same database server: no middleware, no apps, raw SQL. Its POST inserts one row in a "
            "transaction and answers the row as JSON; its GET answers the newest 20 rows of a 10,000-row "
            "table. Create is compared with the bare POST, the reads with the bare GET."
        ),
        (
            f"- Load: `wrk --latency` with the threads and connections shown, {config.seconds} s per run, "
            f"{config.rounds} rounds; in each round every scenario runs once, ceilings included, so the "
            "rounds interleave. rps is the mean over rounds (min-max shown); p50 and p99 are wrk's latency "
            "percentiles, averaged over rounds. Any non-2xx answer or socket error fails the bench. "
            "wrk does not correct for coordinated omission; p99 under a closed loop of 16 connections "
            "is a queueing figure, not a service time."
        ),
        (
            "- Creates carry a fresh `Idempotency-Key` on every request (per-thread prefix and a counter) "
            "and are made by an organisation of their own, funded through an incoming transfer."
        ),
        (
            "- Statements per request: one request of each kind, made twice through Django's test Client "
            "in a separate process with the same settings; the second is counted. The count is what the "
            "PostgreSQL server received: libpq's protocol trace is on during the request and every "
            "`CommandComplete` is one statement, BEGIN, COMMIT and SAVEPOINTs included. Django's "
            "`CaptureQueriesContext` count is shown beside it as a cross-check (since Django 4.2 it lists "
            "BEGIN and COMMIT too)."
        ),
        (
            f"- Data, at {sizes} payouts: the lister organisation owns every fill payout, newest first one "
            "second apart (the first page is the same at every size); the 30 newest are in flight, 0.1% "
            "failed, 0.1% canceled, the rest paid, each with the events and ledger entries the code writes "
            "for its status. Filled with SQL over `generate_series` (`bench/database.py`), then "
            "account totals recomputed from the entries, `VACUUM (ANALYZE)`, and `manage.py ledger_check`. "
            "The small organisation (balance, history) has one incoming transfer and five payouts: "
            "a handful of entries among everybody else's."
        ),
        "",
    ]
    out += _targets(ctx)
    for phase in ctx.phases:
        counts = ", ".join(f"{table} {_rows(n)}" for table, n in phase.row_counts.items())
        out += [
            f"## {_rows(phase.rows)} payouts",
            "",
            f"Rows: {counts}. Filled in {phase.fill_seconds:.0f} s. `ledger_check`: {phase.ledger_check}.",
            "",
            *_table(phase),
            "",
        ]
    if ctx.no_hot_row.one.runs:
        out += _no_hot_row(ctx.no_hot_row, ctx.phases[-1].rows)
    if ctx.phases:  # (BENCH_STAGES may have left the API stages out)
        out += ["## Statements per request", "", f"At {_rows(ctx.phases[-1].rows)} payouts.", ""]
        out += _statements(ctx.phases[-1])
    if ctx.plans:
        out += [
            f"## Query plans at {_rows(ctx.plans_rows)} payouts",
            "",
            (
                "`EXPLAIN (ANALYZE, BUFFERS OFF)` of the SQL the app runs, captured from a real request "
                "(or call) with `CaptureQueriesContext`, in a transaction rolled back afterwards."
            ),
            "",
        ]
    for plan in ctx.plans:
        out += [f"### {plan['title']}", "", "```sql", plan["sql"], "```", "", "```", plan["plan"], "```", ""]
    out += _metrics(ctx.metrics)
    out += _pipeline(ctx.pipeline)
    out += _webhooks(ctx.webhooks)
    out += _batches(ctx.batches)
    if ctx.profiles:
        out += [
            "## Profiles (BENCH_PROFILE=1)",
            "",
            (
                "py-spy sampled the web workers during the create scenario and the Celery workers during "
                "the pipeline's throughput run; it stops the target at each sample, so this run's figures "
                "are not comparable with an unprofiled run. Speedscope JSON (https://www.speedscope.app):"
            ),
            "",
            *(f"- `{path}`" for path in ctx.profiles),
            "",
        ]
    out += [
        "## Stage durations",
        "",
        *(f"- {name}: {seconds:.0f} s" for name, seconds in ctx.durations.items()),
        "",
    ]
    return "\n".join(out)
