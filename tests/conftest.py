import pytest

from payouts import tasks


@pytest.fixture(autouse=True)
def _no_real_task_queueing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never publish to the broker by accident; tests that want the real thing are
    marked `e2e`. `.delay` is the edge we own, so it is the one we stub."""
    if request.node.get_closest_marker("e2e") is None:
        monkeypatch.setattr(tasks.process_payout, "delay", lambda *args, **kwargs: None)
        monkeypatch.setattr(tasks.process_payouts, "delay", lambda *args, **kwargs: None)
