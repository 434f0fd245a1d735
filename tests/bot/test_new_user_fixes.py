"""What the new-user test found (issue 19), each driven through the fake Bot API."""

from __future__ import annotations

import threading

from tests.bot.conftest import User, colour_of


def whose(pixel: tuple[int, ...], users: tuple[int, ...]) -> int:
    """The user whose solid colour `pixel` is (JPEG moves it a little)."""
    return min(
        users, key=lambda u: sum(abs(a - b) for a, b in zip(pixel[:3], colour_of(u), strict=True))
    )


def test_after_a_restart_jobs_run_in_the_order_of_their_positions(api, engine, start_bot, tmp_path):
    """The job running at shutdown resumes first, ahead of the one that waited behind it."""
    engine.gate = threading.Event()
    data = tmp_path / "data"
    bot = start_bot(data, workers=1)
    first, second = User(api, 21), User(api, 22)
    first.submit("Lite")
    api.wait_for(lambda: engine.calls, 20, "the first job to start")
    second.submit("Lite")
    second.wait_text("queued, position 1")
    bot.close()  # the running job is interrupted; the second still waits in the queue
    engine.calls.clear()
    engine.gate.set()
    start_bot(data, workers=1)
    first.wait_text("starts again from the queue")
    second.wait_text("still in the queue (position 2)")
    first.wait_results()
    second.wait_results()
    assert [whose(call["content"], (21, 22)) for call in engine.calls] == [21, 22]
