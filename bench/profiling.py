"""`BENCH_PROFILE=1`: py-spy sampling a process and its children while a stage runs, written as
speedscope JSON (open it at https://www.speedscope.app), with the functions that used the most
time themselves. py-spy stops the target at each sample: figures of a profiled run are not to be
compared with those of a run without it."""

import json
import os
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SAMPLES_PER_SECOND = 100
STOP_TIMEOUT_SECONDS = 30


def py_spy_binary(python: str) -> str:
    beside_python = Path(python).parent / "py-spy"
    found = str(beside_python) if beside_python.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("BENCH_PROFILE=1 needs py-spy (a dev dependency: make install)")
    return found


@contextmanager
def py_spy(*, pid: int, output: Path, log: Path, python: str) -> Iterator[Path]:
    """py-spy record of PID and its subprocesses until the block ends (SIGINT: py-spy then writes
    OUTPUT)."""
    command = [
        py_spy_binary(python),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--rate",
        str(SAMPLES_PER_SECOND),
        "--format",
        "speedscope",
        "--output",
        str(output),
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield output
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def top_own_time(speedscope: Path, count: int = 10) -> list[tuple[str, float]]:
    """The COUNT functions with the most samples on top of the stack, over every profile (process,
    thread) in the file, each with its share of all samples."""
    document = json.loads(speedscope.read_text())
    frames = document["shared"]["frames"]
    own: Counter[str] = Counter()
    for profile in document["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if stack:
                frame = frames[stack[-1]]
                own[f"{frame['name']} ({frame.get('file', '?')}:{frame.get('line', '?')})"] += weight
    total = sum(own.values()) or 1
    return [(name, weight / total) for name, weight in own.most_common(count)]
