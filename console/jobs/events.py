"""Events of the job engine, delivered as plain callbacks or an asyncio stream (no Qt here).

Listeners run on the event loop, synchronously, in the order they subscribed. A listener that
raises is logged and skipped; it never stops the tracker or the other listeners. The GUI adapts
this to Qt signals by subscribing a callback that emits one.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType

from console.jobs.model import Job

log = logging.getLogger(__name__)


class Reachability(enum.StrEnum):
    UNKNOWN = "unknown"
    """Not asked yet."""
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    """Connection lost, timed out or busy (503): retried with backoff."""
    LOGIN_FAILED = "login_failed"
    """The array refused the credentials; polling waits until they are replaced."""


@dataclass(frozen=True)
class JobAdded:
    """A new entry: a request about to be sent, a job followed by id, or one resumed from the journal."""

    job: Job


@dataclass(frozen=True)
class JobChanged:
    """Something visible changed (phase, progress, status, stall flag, steps...).

    ``changed`` names what: job record fields, plus ``status``, ``stalled``, ``steps``, ``job_id``.
    """

    job: Job
    changed: frozenset[str]


@dataclass(frozen=True)
class JobFinished:
    """The entry reached its final status: ``job.outcome`` says how, ``job.resource`` what changed."""

    job: Job


@dataclass(frozen=True)
class ArrayChanged:
    """An array's reachability changed. ``retry_in``: seconds until the next attempt, when waiting."""

    array: str
    reachability: Reachability
    reason: str = ""
    retry_in: float | None = None


Event = JobAdded | JobChanged | JobFinished | ArrayChanged
Listener = Callable[[Event], None]


class Subscription:
    """Returned by ``subscribe``; ``cancel()`` stops the deliveries (cancelling twice is harmless)."""

    def __init__(self, bus: EventBus, listener: Listener) -> None:
        self._bus = bus
        self._listener = listener

    def cancel(self) -> None:
        self._bus._remove(self._listener)


class EventBus:
    """Fan-out of events to callbacks and streams."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Subscription:
        self._listeners.append(listener)
        return Subscription(self, listener)

    def stream(self) -> EventStream:
        return EventStream(self)

    def emit(self, event: Event) -> None:
        # A copy, so a listener may unsubscribe (or subscribe another) while being called.
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a job event listener failed on %s", type(event).__name__)

    def _remove(self, listener: Listener) -> None:
        # Remove by identity: two equal bound methods are still two subscriptions.
        for index, present in enumerate(self._listeners):
            if present is listener:
                del self._listeners[index]
                return


class EventStream:
    """Events since the stream was made, as an async iterator::

        async with tracker.events() as events:
            async for event in events:
                ...

    The queue is unbounded (events are small and the loop producing them is the one consuming
    them); ``close()`` ends the iteration after the events already queued.
    """

    def __init__(self, bus: EventBus) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._subscription = bus.subscribe(self._queue.put_nowait)
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._subscription.cancel()
            self._queue.put_nowait(None)

    async def get(self) -> Event:
        """The next event (wait with ``asyncio.timeout`` to bound it); ``StopAsyncIteration`` once closed."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return item

    def pending(self) -> list[Event]:
        """The events queued now, without waiting."""
        items: list[Event] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                self._queue.put_nowait(None)
                break
            items.append(item)
        return items

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
