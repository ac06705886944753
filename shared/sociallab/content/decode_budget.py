"""How much image decoding one process does at once, in bytes of decoder memory.

Every decode says beforehand what it will need (`decoding.Source.cost`); the budget lets decodes run
while their sum fits, first come first served, and makes the others wait a bounded time:

    budget = decode_budget()                        # the process-wide one, sized by settings
    image = await budget.run(cost, decode, data)    # in a worker thread once `cost` fits
    with budget.hold_blocking(cost):                # the same from code already in a worker thread
        ...

Refusals (both `AppError`s, so the API answers them in its envelope):
- a decode that needs more than the whole budget can never run here: `PayloadTooLargeError` (413),
  a property of the file (Drive imports record it as permanent);
- the budget stayed full for `wait_seconds`: `DependencyUnavailableError` (503), a property of the
  moment (Drive imports try again on a later sync).

The budget is shared by every event loop and thread of the process (waiters are woken with
`call_soon_threadsafe`), and a hold lasts as long as the decode really runs: a cancelled caller
(a client that went away) does not release memory a worker thread is still using.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import ctypes.util
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sociallab.config import get_settings
from sociallab.errors import DependencyUnavailableError, PayloadTooLargeError

T = TypeVar("T")
MIB = 1024 * 1024


@dataclass(eq=False)
class _Ticket:
    """One decode's claim on the budget: queued, then granted, then started (in a worker thread)."""

    cost: int
    wake: Callable[[], bool] = field(default=lambda: True)  # False: its event loop is gone
    future: asyncio.Future[None] | None = None  # what an async waiter awaits
    granted: bool = False
    started: bool = False  # the worker thread owns the hold and gives it back


class DecodeBudget:
    """At most `capacity` bytes of decoding at once; a decode waits at most `wait_seconds` for room."""

    def __init__(self, capacity: int, wait_seconds: float) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._used = 0
        self._queue: deque[_Ticket] = deque()

    @property
    def used(self) -> int:
        """Bytes held by running (or about to run) decodes."""
        return self._used

    @property
    def waiting(self) -> int:
        """Decodes waiting for room."""
        return len(self._queue)

    def run(self, cost: int, work: Callable[..., T], *args: object) -> asyncio.Task[T]:
        """`work(*args)` in a worker thread once `cost` bytes fit. The room is taken, or the place
        in the queue, when this is called; cancelling the task gives either back, except while
        `work` runs (the thread holds the memory until it returns).

        Raises:
            PayloadTooLargeError: `cost` is larger than the whole budget (at once).
            DependencyUnavailableError: no room within `wait_seconds` (at once when that is 0).
        """
        loop = asyncio.get_running_loop()
        ticket = self._take_or_queue(cost, loop)
        task = loop.create_task(self._run(ticket, work, args))
        task.add_done_callback(lambda _: self._settle(ticket))
        return task

    @contextmanager
    def hold_blocking(self, cost: int) -> Iterator[None]:
        """Hold `cost` bytes for the block, blocking this (worker) thread while there is no room.

        Raises:
            PayloadTooLargeError: `cost` is larger than the whole budget.
            DependencyUnavailableError: no room within `wait_seconds`.
        """
        event = threading.Event()
        ticket = self._take_or_queue(cost, None, event)
        if not ticket.granted and not event.wait(self.wait_seconds) and not self._withdraw(ticket):
            raise self._busy()
        try:
            yield
        finally:
            self._release(cost)

    async def _run(self, ticket: _Ticket, work: Callable[..., T], args: tuple[object, ...]) -> T:
        if not ticket.granted:
            await self._wait(ticket)

        def held() -> T:
            try:
                return work(*args)
            finally:
                self._release(ticket.cost)

        with self._lock:
            ticket.started = True
        context = contextvars.copy_context()
        # Submitted now and shielded: a cancelled caller leaves the thread running, and its hold with it.
        future = asyncio.get_running_loop().run_in_executor(None, context.run, held)
        future.add_done_callback(_consume)
        return await asyncio.shield(future)

    async def _wait(self, ticket: _Ticket) -> None:
        assert ticket.future is not None
        try:
            await asyncio.wait_for(asyncio.shield(ticket.future), self.wait_seconds)
        except TimeoutError:
            if not self._withdraw(ticket):
                raise self._busy() from None

    def _take_or_queue(
        self, cost: int, loop: asyncio.AbstractEventLoop | None, event: threading.Event | None = None
    ) -> _Ticket:
        if cost > self.capacity:
            raise PayloadTooLargeError(
                f"Decoding this image needs about {_mib(cost)} MiB; this server decodes at most "
                f"{_mib(self.capacity)} MiB at a time. Send a smaller image (fewer pixels)."
            )
        with self._lock:
            if not self._queue and self._used + cost <= self.capacity:
                self._used += cost
                return _Ticket(cost, granted=True)
            if self.wait_seconds <= 0:
                raise self._busy()
            if loop is not None:
                future: asyncio.Future[None] = loop.create_future()
                ticket = _Ticket(cost, _future_waker(loop, future), future)
            else:
                assert event is not None
                ticket = _Ticket(cost, _event_waker(event))
            self._queue.append(ticket)
            return ticket

    def _withdraw(self, ticket: _Ticket) -> bool:
        """Stop waiting: True when the room had been granted meanwhile (the caller now holds it)."""
        with self._lock:
            if ticket.granted:
                return True
            self._queue.remove(ticket)
            self._grant()  # the first in line may have been the one blocking the rest
            return False

    def _settle(self, ticket: _Ticket) -> None:
        """After a `run` task ended: give back what it still claims unless its thread owns it."""
        with self._lock:
            if ticket.started:
                return
            if ticket.granted:
                self._used -= ticket.cost
                ticket.granted = False
            elif ticket in self._queue:
                self._queue.remove(ticket)
            self._grant()

    def _release(self, cost: int) -> None:
        with self._lock:
            self._used -= cost
            self._grant()

    def _grant(self) -> None:
        while self._queue and self._used + self._queue[0].cost <= self.capacity:
            ticket = self._queue.popleft()
            self._used += ticket.cost
            ticket.granted = True
            if not ticket.wake():
                ticket.granted = False
                self._used -= ticket.cost

    def _busy(self) -> DependencyUnavailableError:
        return DependencyUnavailableError(
            f"The server is busy decoding other images (waited {self.wait_seconds:g} s); try again shortly."
        )


def _mib(size: int) -> int:
    return -(-size // MIB)


def _future_waker(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> Callable[[], bool]:
    def wake() -> bool:
        try:
            loop.call_soon_threadsafe(_resolve, future)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            return False
        return True

    return wake


def _event_waker(event: threading.Event) -> Callable[[], bool]:
    def wake() -> bool:
        event.set()
        return True

    return wake


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so an abandoned decode's error is not reported as never retrieved


_budget: DecodeBudget | None = None
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value


def keep_large_buffers_mmapped() -> bool:
    """Make glibc's malloc give every freed large buffer back to the system at once.

    By default glibc raises its mmap threshold (up to 32 MiB) after a large buffer is freed; from
    then on decoded strips, Pillow's image blocks and upload bodies come from per-thread heaps,
    which keep the memory once it is freed, so decodes in 4 worker threads leave the process as
    big as their largest decodes together. A fixed threshold keeps such buffers mmapped.
    Measured with `python -m bench intake_memory --case heic_10bit`: 603 -> 481 MiB.
    Returns False where the C library is not glibc (nothing to tune).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def decode_budget() -> DecodeBudget:
    """The process-wide budget: `IMAGE_DECODE_BUDGET_MIB`, waiting `IMAGE_DECODE_WAIT_SECONDS` at most.

    Raises:
        ConfigurationError: a setting has a value of the wrong type.
    """
    global _budget
    settings = get_settings()
    capacity, wait = settings.image_decode_budget_mib * MIB, settings.image_decode_wait_seconds
    if _budget is None:
        keep_large_buffers_mmapped()
    if _budget is None or (_budget.capacity, _budget.wait_seconds) != (capacity, wait):
        _budget = DecodeBudget(capacity, wait)  # settings changed (tests, the dev server): holds stay with the old one
    return _budget
