"""One console per journal: an operating-system lock beside the journal file.

Two consoles following the same jobs would poll twice and, worse, could both resolve the same
orphan; so a second console on the same journal is refused with a message naming the first one.
The lock is a ``flock`` (``msvcrt.locking`` on Windows) on ``<journal>.lock``: the operating system
drops it when its holder exits, however it exits (``kill -9`` included), so it never goes stale.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import IO


class JournalInUse(RuntimeError):
    """Another console holds the journal. ``pid`` is its process id when it could be read."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        who = f"another PowerStore Console (process {pid})" if pid else "another PowerStore Console"
        super().__init__(
            f"The job journal {path} is in use by {who}. Only one console can follow jobs at a time: "
            "close the other one, or start this one with a different data directory."
        )


class JournalLock:
    """Holds the lock on ``path`` (the lock file) from ``acquire()`` to ``release()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> None:
        """Take the lock or raise ``JournalInUse`` at once (never waits)."""
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # "a+" creates the file without truncating the holder's pid before we know we own it.
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            _lock(handle)
        except OSError:
            pid = _holder_pid(handle)
            handle.close()
            raise JournalInUse(self.path, pid) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {time.time():.0f}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
            _unlock(handle)
        handle.close()


def _holder_pid(handle: IO[str]) -> int | None:
    try:
        handle.seek(0)
        words = handle.read().split()
    except OSError:
        # Windows refuses to read a locked region; the message then names no process.
        return None
    return int(words[0]) if words and words[0].isdigit() else None


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        # Locks one byte past the end if need be; Windows allows locking beyond the end of a file.
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
