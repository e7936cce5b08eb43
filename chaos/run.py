"""`make chaos`: the money path under faults, on a stack of its own, and what must hold afterwards.

It starts everything itself on free ports: a Redis it can stop, a database of its own, the service's
web app, the simulated bank's web app (the same code, another process, so that the bank's API can go
down alone), the dispatcher, both Celery workers and beat, the long-running ones under
`scripts/keep-running.sh` as `make run` has them. It sends payouts at a steady rate to a mix of the
simulator's magic accounts while it SIGKILLs the payouts worker three times, stops Redis (and starts
it again empty), takes the bank's API down, switches the bank to failing, and lets the 0005 accounts
lose their webhooks. Then it waits for recovery, cancels the payouts the bank holds for a person
(0007), and checks: every accepted payout final, each as the bank has it, none paid twice, the
ledger clean and the balance what came in minus what was paid, no 5xx, no create refused while Redis
was down. It prints a table and exits non-zero when anything does not hold. `--short` scales the run
down for CI.
"""

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis as redis_client

from bench import database
from bench.processes import free_port, group_pids, gunicorn

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORK_DIR = ROOT / "var" / "chaos"
KEEP_RUNNING = str(ROOT / "scripts" / "keep-running.sh")
DATABASE_URL = os.environ.get("CHAOS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payouts_chaos")

BIC = "044525225"
ACCOUNTS = {  # the simulator's magic endings (docs/simulator.md), and how often each is used
    "40702810938000000001": 70,  # paid
    "40702810538000000003": 10,  # failed later, account_closed
    "40702810138000000005": 10,  # paid, the webhook lost
    "40702810438000000006": 5,  # paid, the webhook sent twice
    "40702810738000000007": 5,  # held for a person: canceled by the run at the end
}
HELD = "40702810738000000007"


@dataclass(frozen=True)
class Plan:
    payouts: int
    rate: float  # payouts a second
    redis_down: float  # seconds
    bank_down: float
    bank_failing: float
    kills: int
    recovery_timeout: float


FULL = Plan(
    payouts=500, rate=3.0, redis_down=30, bank_down=30, bank_failing=20, kills=3, recovery_timeout=300
)
SHORT = Plan(payouts=100, rate=5.0, redis_down=6, bank_down=6, bank_failing=4, kills=1, recovery_timeout=150)


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    created: list[dict[str, Any]] = field(default_factory=list)
    refused_while_redis_down: int = 0
    transport_errors: int = 0
    redis_down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _say(message: str) -> None:
    print(f"[chaos] {message}", flush=True)  # noqa: T201


def _out(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def _environment(web_port: int, bank_port: int, redis_url: str, keys_file: Path) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": DATABASE_URL,
        "SECRET_KEY": "chaos-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1 localhost",
        "DEBUG": "false",
        "REDIS_URL": redis_url,
        "CACHE_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_VISIBILITY_TIMEOUT": "20",
        "API_RATE_LIMIT": "100000/minute",
        "FAKE_BANK_ENABLED": "true",
        "BANK_API_TOKEN": "chaos-bank-token",
        "BANK_API_URL": f"http://127.0.0.1:{bank_port}/fake-bank/api",
        "BANK_CONNECT_TIMEOUT": "1",
        "BANK_READ_TIMEOUT": "5",
        "BANK_SUBMIT_RETRY_BASE_SECONDS": "0.5",
        "BANK_SUBMIT_RETRY_MAX_SECONDS": "4",
        "FAKE_BANK_WEBHOOK_URL": f"http://127.0.0.1:{web_port}/api/webhooks/bank/",
        "FAKE_BANK_EXECUTION_DELAY_SECONDS": "0.5",
        "FAKE_BANK_WEBHOOK_RETRY_SCALE": "0.001",
        "FAKE_BANK_SWEEP_INTERVAL_SECONDS": "2",
        "FAKE_BANK_SWEEP_GRACE_SECONDS": "5",
        "DEV_WEBHOOK_KEYS_FILE": str(keys_file),
        "RECONCILE_INTERVAL_SECONDS": "2",
        "RECONCILE_BACKOFF_SECONDS": "3 5 10",
        "DISPATCH_RECLAIM_SECONDS": "8",
        "INCOMING_SWEEP_INTERVAL_SECONDS": "5",
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": "chaos-metrics-token",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="payouts-chaos-metrics-"),
    }


def _run(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(  # noqa: S603
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{completed.stderr[-2000:]}")
    return completed.stdout


@contextmanager
def _redis(port: int) -> Iterator[Callable[[bool], None]]:
    """A Redis of the run's own; yields a switch: False stops it, True starts it again, empty."""
    server = shutil.which("redis-server") or "redis-server"
    process: list[subprocess.Popen[bytes]] = []

    def switch(up: bool) -> None:
        if up and not process:
            command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            log = (WORK_DIR / "redis.log").open("ab")
            process.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))  # noqa: S603
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    if redis_client.Redis(port=port, socket_connect_timeout=0.2).ping():
                        return
                except redis_client.RedisError:
                    time.sleep(0.1)
            raise RuntimeError("the run's Redis did not start")
        if not up and process:
            running = process.pop()
            running.kill()
            running.wait()

    switch(True)
    try:
        yield switch
    finally:
        switch(False)


@contextmanager
def _kept_running(name: str, env: dict[str, str], *args: str) -> Iterator[int]:
    """ARGS under keep-running.sh, as `make run` has them; yields the process group."""
    log = (WORK_DIR / f"{name}.log").open("ab")
    process = subprocess.Popen(  # noqa: S603
        [KEEP_RUNNING, PYTHON, *args],
        cwd=ROOT,
        env={**env, "KEEP_RUNNING_PAUSE": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _celery_worker(queue: str) -> list[str]:
    """The arguments after the interpreter for a worker on QUEUE, as the Procfile runs it."""
    return [
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        queue,
        "-c",
        "2",
        "-n",
        f"chaos-{queue}@%h",
        "-l",
        "INFO",
    ]


def _kill_worker(pgid: int) -> None:
    """SIGKILL the Celery worker's main process (keep-running.sh's child), mid-work."""
    for pid in group_pids(pgid):
        if pid == pgid:
            continue
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"celery" in b" ".join(cmdline) and Path(f"/proc/{pid}/stat").read_text().split()[3] == str(pgid):
            os.kill(pid, signal.SIGKILL)
            return


def _create(client: httpx.Client, outcome: Outcome, number: int) -> None:
    account = random.choices(list(ACCOUNTS), weights=list(ACCOUNTS.values()))[0]  # noqa: S311
    body = {
        "amount": f"{random.randint(100, 9999) / 100:.2f}",  # noqa: S311
        "currency": "RUB",
        "recipient": {"name": "Ivan Petrov", "account_number": account, "bic": BIC},
        "description": f"chaos {number}",
    }
    redis_down = outcome.redis_down
    try:
        response = client.post("/api/payouts/", json=body, headers={"Idempotency-Key": f"chaos-{number}"})
    except httpx.HTTPError:
        with outcome.lock:
            outcome.transport_errors += 1
        return
    with outcome.lock:
        outcome.statuses[response.status_code] += 1
        if response.status_code == 201:
            outcome.created.append({"id": response.json()["id"], "account": account})
        elif redis_down:
            outcome.refused_while_redis_down += 1


def _send_load(client: httpx.Client, outcome: Outcome, plan: Plan) -> None:
    start = time.monotonic()
    for number in range(plan.payouts):
        time.sleep(max(0.0, start + number / plan.rate - time.monotonic()))
        _create(client, outcome, number)


def _faults(
    plan: Plan,
    outcome: Outcome,
    *,
    redis: Callable[[bool], None],
    bank_web: Callable[[bool], None],
    set_outcome: Callable[[str], None],
    worker_pgid: int,
) -> list[str]:
    """The fault schedule over the load's length; returns what was done, with times."""
    length = plan.payouts / plan.rate
    done: list[str] = []
    start = time.monotonic()

    def at(fraction: float) -> None:
        time.sleep(max(0.0, start + fraction * length - time.monotonic()))

    def note(what: str) -> None:
        done.append(f"{time.monotonic() - start:6.1f}s {what}")
        _say(what)

    def kill_worker() -> None:
        _kill_worker(worker_pgid)
        note("SIGKILL the payouts worker")

    def redis_off() -> None:
        redis(False)
        outcome.redis_down = True
        note("Redis stopped")

    def redis_on() -> None:
        redis(True)
        outcome.redis_down = False
        note("Redis started again, empty")

    def bank_off() -> None:
        bank_web(False)
        note("the bank's API down")

    def bank_on() -> None:
        bank_web(True)
        note("the bank's API back")

    def bank_failing() -> None:
        set_outcome("failed")
        note("the bank fails every payout")

    def bank_paying() -> None:
        set_outcome("paid")
        note("the bank pays again")

    # When each fault starts and ends, as fractions of the load's length.
    schedule: list[tuple[float, Callable[[], None]]] = sorted(
        [
            *((point, kill_worker) for point in [0.1, 0.5, 0.85][: plan.kills]),
            (0.2, redis_off),
            (0.2 + plan.redis_down / length, redis_on),
            (0.55, bank_off),
            (0.55 + plan.bank_down / length, bank_on),
            (0.7, bank_failing),
            (0.7 + plan.bank_failing / length, bank_paying),
        ],
        key=lambda step: step[0],
    )
    for fraction, action in schedule:
        at(fraction)
        action()
    return done


def _set_bank_outcome(outcome: str) -> None:
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "UPDATE fake_bank_bankpolicy SET outcome = %s, failure_code = %s",
            [outcome, "account_closed" if outcome == "failed" else None],
        )


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:.0f}s: {what}")
        time.sleep(1)


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    with psycopg.connect(DATABASE_URL) as conn:
        row = conn.execute(sql, params or []).fetchone()
        return row[0] if row else None


def _not_final(ids: list[str], *, held_too: bool) -> int:
    statuses = ("paid", "failed", "canceled") if held_too else ("paid", "failed", "canceled", "submitted")
    return int(
        _scalar(
            "SELECT count(*) FROM payouts_payout WHERE id = ANY(%s::uuid[]) AND status <> ALL(%s)",
            [ids, list(statuses)],
        )
    )


def _checks(outcome: Outcome, inn: str, env: dict[str, str]) -> list[tuple[str, str, bool]]:
    ids = [c["id"] for c in outcome.created]
    checks: list[tuple[str, str, bool]] = []
    final = len(ids) - _not_final(ids, held_too=True)
    checks.append(("accepted payouts final", f"{final}/{len(ids)}", final == len(ids)))
    mismatches = _scalar(
        """SELECT count(*) FROM payouts_payout p LEFT JOIN fake_bank_bankpayout b ON b.reference = p.id::text
           WHERE p.id = ANY(%s::uuid[]) AND (
             (b.id IS NULL AND NOT (p.status = 'failed' AND p.bank_reference = ''))
             OR (b.id IS NOT NULL AND b.status <> p.status))""",
        [ids],
    )
    checks.append(("disagreements with the bank's record", str(mismatches), mismatches == 0))
    paid_twice = _scalar(
        """SELECT count(*) FROM (SELECT payout_id FROM payouts_payoutevent WHERE to_status = 'paid'
           AND payout_id = ANY(%s::uuid[]) GROUP BY payout_id HAVING count(*) > 1) twice""",
        [ids],
    )
    settled_twice = _scalar(
        """SELECT count(*) FROM (SELECT payout_id FROM payouts_ledgerentry WHERE kind = 'post_pending'
           AND payout_id = ANY(%s::uuid[]) GROUP BY payout_id HAVING count(*) > 1) twice""",
        [ids],
    )
    bank_twice = _scalar(
        "SELECT count(*) FROM (SELECT reference FROM fake_bank_bankpayout GROUP BY reference"
        " HAVING count(*) > 1) t"
    )
    twice = paid_twice + settled_twice + bank_twice
    checks.append(
        (
            "paid twice (our events, our ledger, the bank)",
            f"{paid_twice}, {settled_twice}, {bank_twice}",
            twice == 0,
        )
    )
    ledger = _run(env, "manage.py", "ledger_check").strip().splitlines()[-1]
    checks.append(("ledger_check", ledger, ledger == "ledger OK"))
    incoming = _scalar(
        "SELECT coalesce(sum(amount), 0) FROM payouts_incomingtransfer WHERE payer_inn = %s", [inn]
    )
    paid = _scalar(
        "SELECT coalesce(sum(p.amount), 0) FROM payouts_payout p"
        " JOIN payouts_organization o ON o.id = p.organization_id WHERE o.inn = %s AND p.status = 'paid'",
        [inn],
    )
    with psycopg.connect(DATABASE_URL) as conn:
        posted, pending = conn.execute(
            """SELECT a.credits_posted - a.debits_posted, a.debits_pending FROM payouts_ledgeraccount a
               JOIN payouts_organization o ON o.id = a.organization_id
               WHERE o.inn = %s AND a.currency = 'RUB'""",
            [inn],
        ).fetchone() or (None, None)
    checks.append(("balance = incoming - paid", f"{posted} = {incoming} - {paid}", posted == incoming - paid))
    checks.append(("pending = in flight (none left)", str(pending), pending == 0))
    server_errors = sum(n for status, n in outcome.statuses.items() if status >= 500)
    checks.append(("responses 5xx", str(server_errors), server_errors == 0))
    checks.append(
        (
            "creates refused while Redis was down",
            str(outcome.refused_while_redis_down),
            outcome.refused_while_redis_down == 0,
        )
    )
    checks.append(
        ("requests that got no answer", str(outcome.transport_errors), outcome.transport_errors == 0)
    )
    return checks


def _timings(ids: list[str]) -> str:
    with psycopg.connect(DATABASE_URL) as conn:
        rows = conn.execute(
            """SELECT extract(epoch FROM coalesce(paid_at, failed_at, canceled_at) - created_at)
               FROM payouts_payout WHERE id = ANY(%s::uuid[])""",
            [ids],
        ).fetchall()
    seconds = sorted(float(r[0]) for r in rows if r[0] is not None)
    if not seconds:
        return "none"
    p95 = seconds[min(len(seconds) - 1, int(len(seconds) * 0.95))]
    return f"p50 {statistics.median(seconds):.1f} s, p95 {p95:.1f} s, max {seconds[-1]:.1f} s"


def run(plan: Plan) -> bool:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    web_port, bank_port, redis_port = free_port(), free_port(), free_port()
    keys_file = WORK_DIR / "webhook-keys.json"
    keys_file.unlink(missing_ok=True)
    env = _environment(web_port, bank_port, f"redis://127.0.0.1:{redis_port}/0", keys_file)
    with ExitStack() as stack:
        database.recreate(DATABASE_URL)
        stack.callback(database.drop, DATABASE_URL)
        redis = stack.enter_context(_redis(redis_port))
        _run(env, "manage.py", "migrate", "--noinput")
        _run(env, "manage.py", "fake_bank_keys")
        keys = json.loads(keys_file.read_text())
        env |= {
            "BANK_WEBHOOK_PUBLIC_KEYS": " ".join(keys["public"]),
            "FAKE_BANK_SIGNING_KEYS": " ".join(keys["private"]),
        }
        env["FAKE_BANK_API_TOKEN"] = env["BANK_API_TOKEN"]
        [organization] = json.loads(
            _run(env, "-m", "bench.django_side", "seed_many", "42", "1").strip().splitlines()[-1]
        )
        _set_bank_outcome("paid")

        def web_app(name: str, port: int) -> Any:
            log = WORK_DIR / f"{name}.log"
            return gunicorn(
                wsgi_app="config.wsgi:application",
                env=env,
                ready_path="/health/live",
                log=log,
                python=PYTHON,
                port=port,
            )

        web = stack.enter_context(web_app("web", web_port))
        bank_stack = ExitStack()
        stack.callback(bank_stack.close)

        def bank_web(up: bool) -> None:
            if up:
                bank_stack.enter_context(web_app("bank-web", bank_port))
            else:
                bank_stack.close()

        bank_web(True)
        stack.enter_context(_kept_running("dispatcher", env, "manage.py", "payouts_dispatch"))
        worker = stack.enter_context(_kept_running("payouts-worker", env, *_celery_worker("payouts")))
        stack.enter_context(_kept_running("bank-worker", env, *_celery_worker("fake_bank")))
        stack.enter_context(
            _kept_running(
                "beat",
                env,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "INFO",
                "--schedule",
                str(WORK_DIR / "beat-schedule"),
            )
        )
        time.sleep(5)  # the workers connect
        _say(
            f"stack up: web {web}, bank on {bank_port}, Redis on {redis_port}; "
            f"{plan.payouts} payouts at {plan.rate}/s"
        )

        outcome = Outcome()
        client = httpx.Client(
            base_url=web, headers={"Authorization": f"Api-Key {organization['key']}"}, timeout=30
        )
        load = threading.Thread(target=_send_load, args=(client, outcome, plan))
        load.start()
        done = _faults(
            plan, outcome, redis=redis, bank_web=bank_web, set_outcome=_set_bank_outcome, worker_pgid=worker
        )
        load.join()
        ids = [c["id"] for c in outcome.created]
        _say(f"load done: {dict(outcome.statuses)}; waiting for every payout to settle")
        _wait_until(
            lambda: _not_final(ids, held_too=False) == 0, plan.recovery_timeout, "every payout final or held"
        )
        for held in [c["id"] for c in outcome.created if c["account"] == HELD]:
            client.patch(f"/api/payouts/{held}/", json={"status": "canceled", "reason": "held by the bank"})
        _wait_until(lambda: _not_final(ids, held_too=True) == 0, plan.recovery_timeout, "every payout final")
        checks = _checks(outcome, organization["inn"], env)
        by_status = dict(
            Counter(
                _scalar("SELECT array_agg(status) FROM payouts_payout WHERE id = ANY(%s::uuid[])", [ids])
                or []
            )
        )
        _out("\n| check | figure | |\n|---|---|---|")
        for name, figure, ok in checks:
            _out(f"| {name} | {figure} | {'ok' if ok else 'FAILED'} |")
        _out(f"\nPayouts: {len(ids)} accepted, by status {by_status}; create to final: {_timings(ids)}.")
        _out("Faults:\n" + "\n".join(f"- {line}" for line in done))
        return all(ok for _, _, ok in checks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="100 payouts, faults scaled down (CI)")
    args = parser.parse_args(argv)
    sys.exit(0 if run(SHORT if args.short else FULL) else 1)
