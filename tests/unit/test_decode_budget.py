"""The decode budget: decodes run while their memory fits, the rest wait their turn (bounded) or are refused."""

from __future__ import annotations

import asyncio
import sys
import threading
from contextlib import ExitStack

import pytest

from sociallab.config import reset_settings
from sociallab.content.decode_budget import MIB, DecodeBudget, decode_budget, keep_large_buffers_mmapped
from sociallab.errors import DependencyUnavailableError, PayloadTooLargeError

pytestmark = pytest.mark.unit

COST = 100 * MIB


def decoded(tag: str, ran: list[str]) -> str:
    ran.append(tag)
    return tag


async def test_a_fifth_decode_waits_until_one_of_four_is_done() -> None:
    budget = DecodeBudget(4 * COST, wait_seconds=600)
    ran: list[str] = []
    with ExitStack() as running:
        holds = [running.enter_context(budget.hold_blocking(COST)) for _ in range(4)]
        assert len(holds) == 4 and budget.used == 4 * COST
        fifth = budget.run(COST, decoded, "fifth", ran)
        assert budget.waiting == 1
        assert not fifth.done() and ran == []
    # the four are done: the fifth gets its turn
    assert await fifth == "fifth"
    assert ran == ["fifth"]
    assert (budget.used, budget.waiting) == (0, 0)


async def test_with_no_time_to_wait_a_full_budget_refuses_at_once() -> None:
    budget = DecodeBudget(4 * COST, wait_seconds=0)
    with budget.hold_blocking(4 * COST), pytest.raises(DependencyUnavailableError) as refused:
        await budget.run(COST, decoded, "late", [])
    assert refused.value.status == 503
    assert "busy" in refused.value.message
    assert (budget.used, budget.waiting) == (0, 0)


async def test_waiting_is_bounded() -> None:
    budget = DecodeBudget(COST, wait_seconds=0.01)
    with budget.hold_blocking(COST):
        with pytest.raises(DependencyUnavailableError):
            await budget.run(COST, decoded, "late", [])
        assert budget.waiting == 0  # the one that gave up is out of the queue
        with pytest.raises(DependencyUnavailableError):
            await asyncio.to_thread(_hold, budget)  # the blocking form gives up as well
    assert (budget.used, budget.waiting) == (0, 0)


def _hold(budget: DecodeBudget) -> None:
    with budget.hold_blocking(COST):
        raise AssertionError("the budget was full")


def test_a_decode_bigger_than_the_whole_budget_is_refused_as_too_large() -> None:
    budget = DecodeBudget(4 * COST, wait_seconds=600)
    with pytest.raises(PayloadTooLargeError) as refused, budget.hold_blocking(5 * COST):
        pass
    assert refused.value.status == 413
    assert "500 MiB" in refused.value.message and "400 MiB" in refused.value.message


async def test_the_first_in_line_is_not_overtaken_by_smaller_decodes() -> None:
    budget = DecodeBudget(4 * COST, wait_seconds=600)
    ran: list[str] = []
    with ExitStack() as running:
        running.enter_context(budget.hold_blocking(3 * COST))
        big = budget.run(4 * COST, decoded, "big", ran)
        small = budget.run(COST, decoded, "small", ran)
        assert budget.waiting == 2 and budget.used == 3 * COST  # the small one would fit, but waits its turn
    assert await big == "big" and await small == "small"
    assert ran == ["big", "small"]


async def test_a_cancelled_caller_keeps_the_memory_held_until_its_decode_ends() -> None:
    budget = DecodeBudget(COST, wait_seconds=600)
    started, finish = threading.Event(), threading.Event()

    def slow_decode() -> None:
        started.set()
        finish.wait()

    caller = budget.run(COST, slow_decode)
    await asyncio.to_thread(started.wait)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert budget.used == COST  # the worker thread still decodes
    finish.set()

    def next_decode() -> int:
        with budget.hold_blocking(COST):  # waits for the abandoned decode to give its memory back
            return budget.used

    assert await asyncio.to_thread(next_decode) == COST
    assert budget.used == 0


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    budget = DecodeBudget(COST, wait_seconds=600)
    with budget.hold_blocking(COST):
        waiter = budget.run(COST, decoded, "never", [])
        assert budget.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert budget.waiting == 0
    assert budget.used == 0


def test_the_process_budget_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_DECODE_BUDGET_MIB", "300")
    monkeypatch.setenv("IMAGE_DECODE_WAIT_SECONDS", "0")
    reset_settings()
    budget = decode_budget()
    assert (budget.capacity, budget.wait_seconds) == (300 * MIB, 0)
    assert decode_budget() is budget
    monkeypatch.setenv("IMAGE_DECODE_BUDGET_MIB", "200")
    reset_settings()
    assert decode_budget().capacity == 200 * MIB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_glibc_is_told_to_give_large_freed_buffers_back() -> None:
    assert keep_large_buffers_mmapped() is True
