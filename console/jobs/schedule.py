"""When to look at a job next, and how patiently to retry an array that does not answer.

A job is looked at soon after it starts (most jobs finish in a second or two), then less often:
the wait grows with the job's age (a quarter of it), between ``min_interval`` and
``max_interval``. When the array gives an ``estimated_completion_time``, or the progress so far
allows an extrapolation, the next look is put just after the expected end instead, so a finish is
seen promptly without polling a long job often. Dell publishes no interval; these are ours.
"""

from __future__ import annotations

import random
import statistics
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class PollPolicy:
    min_interval: float = 0.25
    """Shortest wait between two looks at a job (also the first look after submitting)."""
    max_interval: float = 5.0
    """Longest wait between two looks at a running job."""
    age_fraction: float = 0.25
    """The wait grows as this share of the job's age."""
    finish_margin: float = 0.05
    """Look this long after the expected end."""
    overdue_interval: float = 1.0
    """Longest wait for a job past its expected end."""
    coalesce: float = 0.5
    """A job due within this many seconds (and half its own interval) joins the current request."""
    batch_size: int = 90
    """Ids per request when filling a request up with jobs due soon (the client may split further)."""
    stall_after: float = 300.0
    """Flag a job whose phase and progress have not moved for this many seconds."""
    backoff_initial: float = 1.0
    """First wait after an array failed to answer; doubles up to ``backoff_max``."""
    backoff_max: float = 30.0
    login_retry: float = 60.0
    """Wait before trying an array again after its login was refused (unless woken)."""
    orphan_settle: float = 1.0
    """Seconds after a lost answer before the array's job list is searched for the orphan."""
    orphan_before: float = 60.0
    """The orphan search looks for jobs started from this long before the intent (clock skew)..."""
    orphan_after: float = 180.0
    """...to this long after it (a request that waited in queues, plus skew)."""
    gone_confirm: bool = True
    """Ask for a job missing from a batch by its own id before calling it gone."""
    keep_finished: int = 2000
    """Ended entries kept in memory (``jobs()``, ``get()``), the most recent ones; older ones are
    in the journal (``history()``), so that a console left running for weeks stays small."""
    prune_every: float = 6 * 3600.0
    """Seconds between two applications of the journal's retention rule while the console runs."""

    def next_interval(self, *, age: float, until_finish: float | None) -> float:
        """Seconds until the next look at a running job.

        ``age``: seconds since the job started (or was first seen). ``until_finish``: seconds until
        its expected end (negative when overdue), None when there is no estimate.
        """
        wait = min(self.max_interval, max(self.min_interval, age * self.age_fraction))
        if until_finish is not None:
            if until_finish >= 0:
                wait = min(wait, until_finish + self.finish_margin)
            else:
                wait = min(wait, self.overdue_interval)
        return max(self.min_interval, wait)

    def backoff(self, failures: int) -> float:
        """Wait before the next attempt after ``failures`` consecutive failures (with jitter, so
        that many consoles do not retry an array in step)."""
        base = min(self.backoff_max, self.backoff_initial * 2 ** max(0, failures - 1))
        return base * random.uniform(0.8, 1.2)


class ClockSkew:
    """How far the array's clock is ahead of ours, from the jobs this console started.

    A job's ``start_time`` (array clock) lies between our sending the request and the answer
    arriving; the middle of that span against ``start_time`` is one sample. The median of recent
    samples is robust to the odd slow answer. Without samples the clocks are taken as equal.
    """

    def __init__(self, keep: int = 25) -> None:
        self._samples: deque[float] = deque(maxlen=keep)

    def add(self, array_time: float, local_sent: float, local_answered: float) -> None:
        self._samples.append(array_time - (local_sent + local_answered) / 2)

    @property
    def seconds(self) -> float:
        return statistics.median(self._samples) if self._samples else 0.0

    def to_local(self, array_time: float) -> float:
        return array_time - self.seconds

    def to_array(self, local_time: float) -> float:
        return local_time + self.seconds


class Progress:
    """Extrapolates a job's end from its progress when the array gives no estimate."""

    __slots__ = ("first_at", "first_value", "last_at", "last_value")

    def __init__(self) -> None:
        self.first_at: float | None = None
        self.first_value = 0
        self.last_at: float | None = None
        self.last_value = 0

    def observe(self, now: float, value: int | None) -> None:
        if value is None:
            return
        if self.first_at is None or value < self.first_value:
            self.first_at, self.first_value = now, value
        self.last_at, self.last_value = now, value

    def until_finish(self, now: float) -> float | None:
        if self.first_at is None or self.last_at is None:
            return None
        gained = self.last_value - self.first_value
        span = self.last_at - self.first_at
        if gained <= 0 or span <= 0:
            return None
        rate = gained / span
        return self.last_at + (100 - self.last_value) / rate - now
