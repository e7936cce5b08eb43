"""The servers the bench starts: gunicorn on a free port, stopped with everything it forked."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group we created (gunicorn's master and its workers), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def gunicorn(*, wsgi_app: str, env: dict[str, str], ready_path: str, log: Path, python: str) -> Iterator[str]:
    """gunicorn with 4 sync workers and no access log, as production runs it; yields its base URL."""
    port = free_port()
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
        yield base_url
    finally:
        _stop(process)
