"""The process's presence task (presence/runtime.py) ends when it is cancelled."""

from __future__ import annotations

import asyncio

from presence import runtime


async def test_the_sweep_loop_ends_when_cancelled_even_if_a_step_swallows_it(monkeypatch):
    """asgiref's sync_to_async, cancelled while its thread runs, waits for the thread and
    returns normally: the cancellation never reaches the loop as an exception. The loop must
    end anyway, or a server (or a test's event loop) shutting down waits for it for ever."""
    started = asyncio.Event()

    async def sweep_that_swallows_cancellation(**kwargs):
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return  # as sync_to_async does when its thread was already running

    monkeypatch.setattr(runtime.services, "sweep", sweep_that_swallows_cancellation)
    monkeypatch.setattr(runtime, "SWEEP_EVERY", 0.01)
    task = asyncio.get_running_loop().create_task(runtime.Registry()._run())
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done, "the presence loop kept running after it was cancelled"
