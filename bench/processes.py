"""The processes the bench starts: gunicorn on a free port and Celery workers, each in a session of
its own, stopped with everything it forked; the CPU time a process group has used."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
# Runs a command at the lowest CPU priority, as the Procfile runs the client webhooks' worker.
BACKGROUND_CPU = ROOT / "scripts" / "background-cpu.sh"
GUNICORN_WORKERS = 4
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own server)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT_SECONDS}s; see {log}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes], *, whole_group: bool = True) -> None:
    """SIGTERM to the process group we created (gunicorn's master and its workers), or to its leader
    alone (a Celery worker shuts its pool down itself), then SIGKILL to whatever of the group is left."""
    if process.poll() is None:
        if whole_group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_stats(pgid: int) -> dict[int, list[str]]:
    """/proc/<pid>/stat of each live process of the group, as its fields from field 3 (the state)
    on: field n of proc(5) is at index n - 3."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            stats[int(entry.name)] = fields
    return stats


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process of the group, plus what their reaped children used
    (cutime + cstime)."""
    ticks = sum(sum(int(value) for value in fields[11:15]) for fields in _group_stats(pgid).values())
    return ticks / os.sysconf("SC_CLK_TCK")


def group_pids(pgid: int) -> list[int]:
    return sorted(_group_stats(pgid))


@dataclass(frozen=True)
class Started:
    """A process the bench started: its URL (servers only) and its process group, which is its pid."""

    name: str
    pgid: int
    url: str = ""


@contextmanager
def gunicorn_group(
    *, wsgi_app: str, env: dict[str, str], ready_path: str, log: Path, python: str, port: int = 0
) -> Iterator[Started]:
    """gunicorn with 4 sync workers and no access log, as production runs it, on PORT (or a free
    one)."""
    port = port or free_port()
    command = [
        python,
        "-m",
        "gunicorn",
        wsgi_app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        "sync",
        "--error-logfile",
        "-",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url + ready_path, process, log)
        yield Started(name="web", pgid=process.pid, url=base_url)
    finally:
        _stop(process)


@contextmanager
def gunicorn(
    *, wsgi_app: str, env: dict[str, str], ready_path: str, log: Path, python: str, port: int = 0
) -> Iterator[str]:
    """`gunicorn_group`, yielding its base URL."""
    with gunicorn_group(
        wsgi_app=wsgi_app, env=env, ready_path=ready_path, log=log, python=python, port=port
    ) as started:
        yield started.url


@contextmanager
def celery_worker(
    *,
    name: str,
    queue: str,
    concurrency: int,
    env: dict[str, str],
    log: Path,
    python: str,
    threads: bool = False,
    idle_priority: bool = False,
) -> Iterator[Started]:
    """`celery -A config worker -Q QUEUE -c CONCURRENCY` as the Procfile runs it (prefork, or THREADS;
    under `scripts/background-cpu.sh` with IDLE_PRIORITY; INFO); ready when it logs `ready.`. Stopped
    with SIGTERM to the main process (a warm shutdown)."""
    command = [
        *([str(BACKGROUND_CPU)] if idle_priority else []),
        python,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "-l",
        "INFO",
        *(["-P", "threads"] if threads else []),
    ]
    with _started_when_logged(
        command, env=env, log=log, marker=b" ready.", what=f"celery worker {name}"
    ) as pid:
        yield Started(name=name, pgid=pid)


@contextmanager
def dispatcher(*, env: dict[str, str], log: Path, python: str) -> Iterator[Started]:
    """`manage.py payouts_dispatch` as the Procfile runs it; ready when it logs its start. Stopped with
    SIGTERM (it finishes its poll and exits)."""
    command = [python, "manage.py", "payouts_dispatch"]
    with _started_when_logged(
        command, env=env, log=log, marker=b"dispatcher.started", what="the dispatcher"
    ) as pid:
        yield Started(name="dispatcher", pgid=pid)


@contextmanager
def _started_when_logged(
    command: list[str], *, env: dict[str, str], log: Path, marker: bytes, what: str
) -> Iterator[int]:
    """Start COMMAND in a session of its own, its output appended to LOG; ready once MARKER shows in
    what it logged. Stopped with SIGTERM to the main process (a warm shutdown)."""
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while marker not in log.read_bytes()[start:]:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready in {READY_TIMEOUT_SECONDS}s; see {log}")
            time.sleep(0.2)
        yield process.pid
    finally:
        _stop(process, whole_group=False)


@contextmanager
def beat(*, env: dict[str, str], log: Path, python: str, schedule: Path) -> Iterator[Started]:
    """`celery -A config beat` with its schedule in SCHEDULE; ready when it logs its start."""
    command = [python, "-m", "celery", "-A", "config", "beat", "-l", "INFO", "--schedule", str(schedule)]
    with _started_when_logged(command, env=env, log=log, marker=b"beat: Starting", what="beat") as pid:
        yield Started(name="beat", pgid=pid)


@contextmanager
def receivers(*, ok_port: int, dead_port: int, log: Path, python: str) -> Iterator[Started]:
    """`python -m bench.receivers`: endpoints that answer 204 on OK_PORT, and never on DEAD_PORT."""
    # At the lowest priority: they stand for the clients' own machines, not for work of this one.
    command = [str(BACKGROUND_CPU), python, "-m", "bench.receivers", str(ok_port), str(dead_port)]
    with _started_when_logged(
        command, env=dict(os.environ), log=log, marker=b"receivers.ready", what="the receivers"
    ) as pid:
        yield Started(name="receivers", pgid=pid)


def manage(*args: str, env: dict[str, str], log: Path, python: str) -> str:
    """`manage.py ARGS` under ENV, its stderr appended to LOG; its stdout, or raises when it fails."""
    with log.open("a") as errors:
        completed = subprocess.run(  # noqa: S603
            [python, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed; see {log}")
    return completed.stdout


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
