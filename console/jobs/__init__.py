"""The job engine: follows asynchronous jobs on PowerStore arrays and never forgets one.

    async with Journal(path) as journal, JobTracker(journal) as tracker:
        tracker.add_array("lab", client)
        job = await tracker.submit("lab", "POST", "volume", {"name": "db01", "size": 8 << 30})
        done = await tracker.wait(job.key)

Qt-free: listeners are plain callbacks (``subscribe``) or an asyncio stream (``events``). See
docs/jobs.md.
"""

from console.jobs.events import (
    ArrayChanged,
    Event,
    EventStream,
    JobAdded,
    JobChanged,
    JobFinished,
    Reachability,
    Subscription,
)
from console.jobs.journal import DuplicateJob, Journal, JournalError, Observation, default_path
from console.jobs.lock import JournalInUse
from console.jobs.model import (
    GONE_TEXT,
    UNKNOWN_TEXT,
    Intent,
    Job,
    Outcome,
    ResourceChange,
    ResourceRef,
    Status,
    Step,
)
from console.jobs.schedule import PollPolicy
from console.jobs.tracker import ArrayState, JobTracker, TickReport, UnknownArray

__all__ = [
    "GONE_TEXT",
    "UNKNOWN_TEXT",
    "ArrayChanged",
    "ArrayState",
    "DuplicateJob",
    "Event",
    "EventStream",
    "Intent",
    "Job",
    "JobAdded",
    "JobChanged",
    "JobFinished",
    "JobTracker",
    "Journal",
    "JournalError",
    "JournalInUse",
    "Observation",
    "Outcome",
    "PollPolicy",
    "Reachability",
    "ResourceChange",
    "ResourceRef",
    "Status",
    "Step",
    "Subscription",
    "TickReport",
    "UnknownArray",
    "default_path",
]
