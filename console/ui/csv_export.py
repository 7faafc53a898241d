"""Export the current view of a resource table (its columns, order and filter) to a CSV file.

Every matching row is walked with ``PowerStoreClient.iterate`` (pages of 2000, the next one fetched
while this one is written). Rows are formatted and written in chunks, yielding to the event loop
between chunks, so a hundred thousand rows never freeze the window. The file is written beside its
final name and renamed when complete: a cancelled or failed export leaves no half file.

Cells: numbers exact (bytes as a byte count, so a spreadsheet can sum them), timestamps in local
time as ISO 8601 with the offset, enums and booleans as the table shows them, lists joined with
``; ``. UTF-8 with a byte-order mark, which spreadsheet programs need to read UTF-8.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from console.api import Expression, Order, PowerStoreClient
from console.presentation import Column, select_text
from console.ui import qt_async

log = logging.getLogger(__name__)

CHUNK_ROWS = 500
"""Rows formatted and written between two yields to the event loop."""
PROGRESS_AFTER_MS = 400
"""The progress dialog shows only for exports that take longer than this."""


def csv_row(columns: Sequence[Column], record: dict[str, Any]) -> list[str]:
    return [c.csv_value(c.value(record), c.l10n(record)) for c in columns]


class CsvExport(QObject):
    """One export; ``start()`` runs it as a tracked task, ``cancel()`` stops it."""

    progress = Signal(int, int)
    """Rows written, rows expected (0 when unknown)."""
    finished = Signal(str, int)
    """The file written and its row count (header not counted)."""
    failed = Signal(object)
    cancelled = Signal()

    def __init__(
        self,
        client: PowerStoreClient,
        type_name: str,
        columns: Sequence[Column],
        path: str | os.PathLike[str],
        *,
        where: Expression | None = None,
        order: Sequence[Order] = (),
        total: int = 0,
        chunk_rows: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._type = type_name
        self._columns = list(columns)
        self._path = Path(path)
        self._where = where
        self._order = list(order)
        self._total = total
        self._chunk = max(1, chunk_rows if chunk_rows is not None else CHUNK_ROWS)
        self._written = 0
        self._task: asyncio.Task[None] | None = None
        self._state = "new"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def rows_written(self) -> int:
        return self._written

    @property
    def total(self) -> int:
        return self._total

    @property
    def state(self) -> str:
        """``new``, ``running``, ``finished``, ``failed`` or ``cancelled``."""
        return self._state

    @property
    def done(self) -> bool:
        return self._state in ("finished", "failed", "cancelled")

    def start(self) -> None:
        if self._state != "new":
            raise RuntimeError("an export runs once")
        self._state = "running"
        self._task = qt_async.start(self._run(), name=f"CsvExport({self._type})")
        self._task.add_done_callback(self._task_done)

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # Cancelled before it ever ran: _run() had no chance to say so itself.
        if task.cancelled() and self._state == "running":
            self._state = "cancelled"
            self._tell("cancelled")

    async def _run(self) -> None:
        partial = self._path.with_name(self._path.name + ".part")
        try:
            await self._write(partial)
            os.replace(partial, self._path)
        except asyncio.CancelledError:
            _remove(partial)
            self._state = "cancelled"
            log.info("export of %s to %s cancelled after %d rows", self._type, self._path, self._written)
            self._tell("cancelled")
            return
        except Exception as exc:
            _remove(partial)
            self._state = "failed"
            log.warning("export of %s to %s failed: %s", self._type, self._path, exc)
            self._tell("failed", exc)
            return
        self._state = "finished"
        log.info("exported %d %s rows to %s", self._written, self._type, self._path)
        self._tell("finished", str(self._path), self._written)

    def _tell(self, signal: str, *args: object) -> None:
        # The view that owned this export may be gone (its tab closed, the app quitting): the
        # export still ends properly (no .part file left), with nobody left to tell.
        if shiboken6.isValid(self):
            getattr(self, signal).emit(*args)

    async def _write(self, partial: Path) -> None:
        select = select_text(self._columns)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        with partial.open("w", encoding="utf-8-sig", newline="") as out:
            writer.writerow([c.label for c in self._columns])
            pending = 0
            async for record in self._client.iterate(
                self._type, select=select, where=self._where, order=self._order or None
            ):
                writer.writerow(csv_row(self._columns, record))
                pending += 1
                if pending >= self._chunk:
                    self._flush(buffer, out, pending)
                    pending = 0
                    # Let the window paint and other tasks run between chunks.
                    await asyncio.sleep(0)
            self._flush(buffer, out, pending)

    def _flush(self, buffer: io.StringIO, out: io.TextIOBase, rows: int) -> None:
        out.write(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        self._written += rows
        self.progress.emit(self._written, max(self._total, self._written))


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


class ExportProgress(QProgressDialog):
    """A non-modal progress dialog for an export: shows after a moment, cancels the export, and
    closes itself when the export ends."""

    def __init__(self, export: CsvExport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportProgress")
        self.setWindowTitle("Export to CSV")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setMinimumDuration(PROGRESS_AFTER_MS)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setLabelText(f"Exporting to {export.path.name}…")
        self.setRange(0, max(export.total, 1))
        self.setValue(0)
        self._export = export
        export.progress.connect(self._progress)
        export.finished.connect(self._end)
        export.failed.connect(self._end)
        export.cancelled.connect(self._end)
        self.canceled.connect(export.cancel)

    def _progress(self, written: int, total: int) -> None:
        if total > self.maximum():
            self.setMaximum(total)
        self.setLabelText(f"Exporting to {self._export.path.name}…\n{written:,} of {total:,} rows")
        self.setValue(min(written, self.maximum()))

    def _end(self, *args: object) -> None:
        self.canceled.disconnect(self._export.cancel)
        self.close()
        self.deleteLater()
