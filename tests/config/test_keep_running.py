"""`scripts/keep-running.sh`, which `make run` wraps its workers in: a process that dies is started
again; a stop request stops it for good."""

import os
import signal
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "keep-running.sh"


def test_a_command_that_dies_is_started_again_and_a_stop_request_ends_it(tmp_path: Path) -> None:
    # given a command that counts its starts and dies at once the first two times
    starts = tmp_path / "starts"
    command = f'echo x >> {starts}; [ "$(wc -l < {starts})" -ge 3 ] && exec sleep 30; exit 1'
    process = subprocess.Popen(  # noqa: S603
        [str(SCRIPT), "bash", "-c", command],
        env={**os.environ, "KEEP_RUNNING_PAUSE": "0.1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not starts.exists() or len(starts.read_text().split()) < 3):
            time.sleep(0.05)
        # then it was started three times, and now runs
        assert len(starts.read_text().split()) == 3
        assert process.poll() is None

        # when it is asked to stop, it stops (the command with it) and is not started again
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert len(starts.read_text().split()) == 3
        assert process.stderr is not None
        assert process.stderr.read().count("exited with status 1; starting it again") == 2
    finally:
        if process.poll() is None:
            process.kill()
