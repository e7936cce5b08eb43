"""`scripts/background-cpu.sh`, which the client webhooks' worker runs under: the command runs at
SCHED_IDLE, and when it leads a session of its own, that session's autogroup gets the lowest weight
(nice 19) too; run from another session, it leaves that session's group as it was."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "background-cpu.sh"
# What the command reports about itself: its scheduling policy, then its session's autogroup line
# (which is empty for a process in the kernel's root group, one whose session never called setsid:
# how CI's runner starts its commands).
REPORT = 'python3 -c "import os; print(os.sched_getscheduler(0))"; cat /proc/self/autogroup'

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/autogroup").exists(), reason="the kernel groups no processes by session"
)


def _run(*, own_session: bool) -> tuple[int, str]:
    completed = subprocess.run(  # noqa: S603
        [str(SCRIPT), "sh", "-c", REPORT],
        capture_output=True,
        text=True,
        check=True,
        start_new_session=own_session,
        timeout=30,
    )
    policy, autogroup = completed.stdout.split("\n", 1)
    return int(policy), autogroup.strip()


def test_a_command_in_a_session_of_its_own_runs_idle_and_its_session_at_the_lowest_weight() -> None:
    policy, autogroup = _run(own_session=True)

    assert policy == os.SCHED_IDLE
    assert autogroup.endswith(" nice 19")


def test_a_command_in_another_session_runs_idle_and_leaves_that_session_alone() -> None:
    before = Path("/proc/self/autogroup").read_text().strip()

    policy, autogroup = _run(own_session=False)

    assert policy == os.SCHED_IDLE
    assert autogroup == before
