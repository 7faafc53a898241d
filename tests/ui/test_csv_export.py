"""CSV export of a view against the simulator over TLS: the file holds the view's columns, order and
filter; progress is reported; a cancelled or failed export leaves no file behind."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QProgressDialog, QPushButton

from console.api import F, Order
from console.presentation import presentation
from console.ui import qt_async
from console.ui.csv_export import CsvExport
from console.ui.resource_view import ResourceView
from tests.ui.conftest import process_events_until, run

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")

VOLUMES = F("type") != "Snapshot"
COLUMNS = ["name", "size", "state", "protection_policy.name", "creation_timestamp", "volume_groups.name"]


@pytest.fixture
def make_export(ui_client) -> Iterator[Callable[..., CsvExport]]:
    exports: list[CsvExport] = []

    def make(path: Path, *, keys=COLUMNS, where=VOLUMES, order=(Order("name"),), total=0, chunk_rows=500):
        pres = presentation()
        export = CsvExport(
            ui_client,
            "volume",
            [pres.column("volume", k) for k in keys],
            path,
            where=where,
            order=order,
            total=total,
            chunk_rows=chunk_rows,
        )
        exports.append(export)
        return export

    yield make
    for export in exports:
        export.cancel()
    process_events_until(lambda: not qt_async.running_tasks())


def read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def server_items(client, **kwargs) -> list[dict]:
    async def walk() -> list[dict]:
        return [item async for item in client.iterate("volume", **kwargs)]

    return run(walk(), timeout=30)


def test_the_file_holds_the_views_columns_order_and_filter(qtbot, make_export, ui_client, tmp_path):
    where = VOLUMES & F("name").ilike("*prod*")
    order = (Order("size", descending=True), Order("id"))
    path = tmp_path / "volumes.csv"
    export = make_export(path, where=where, order=order)
    with qtbot.waitSignal(export.finished, timeout=30000) as blocker:
        export.start()
    items = server_items(
        ui_client,
        select="id,name,size,state_l10n,protection_policy(name),creation_timestamp,volume_groups(name)",
        where=where,
        order=list(order),
    )
    assert blocker.args == [str(path), len(items)]
    rows = read(path)
    assert rows[0] == ["Name", "Size", "State", "Protection policy", "Created", "Volume groups"]
    assert len(rows) == len(items) + 1 > 2
    assert [r[0] for r in rows[1:]] == [item["name"] for item in items]
    first = items[0]
    assert rows[1][1] == str(first["size"])
    assert rows[1][2] == first["state_l10n"]
    assert rows[1][3] == ((first["protection_policy"] or {}).get("name") or "")
    stamp = dt.datetime.fromisoformat(rows[1][4])
    assert stamp == dt.datetime.fromisoformat(first["creation_timestamp"]).replace(microsecond=0)
    assert stamp.utcoffset() == dt.datetime.now().astimezone().utcoffset()
    grouped = next((item, row) for item, row in zip(items, rows[1:], strict=True) if item["volume_groups"])
    assert grouped[1][5] == "; ".join(g["name"] for g in grouped[0]["volume_groups"])
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert not list(tmp_path.glob("*.part"))
    assert export.state == "finished" and export.rows_written == len(items)


def test_progress_comes_in_chunks_up_to_the_total(qtbot, make_export, ui_client, tmp_path):
    total = run(ui_client.query("volume", select="id", where=VOLUMES, limit=1)).total
    export = make_export(tmp_path / "all.csv", keys=["name"], total=total, chunk_rows=100)
    seen: list[tuple[int, int]] = []
    export.progress.connect(lambda done, expected: seen.append((done, expected)))
    with qtbot.waitSignal(export.finished, timeout=30000):
        export.start()
    assert len(seen) >= total // 100
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (total, total)
    assert len(read(tmp_path / "all.csv")) == total + 1


def test_an_export_cancelled_before_it_starts_says_so(qtbot, make_export, tmp_path):
    export = make_export(tmp_path / "never.csv")
    with qtbot.waitSignal(export.cancelled, timeout=5000):
        export.start()
        export.cancel()
    assert export.state == "cancelled"
    assert not list(tmp_path.iterdir())


def test_a_cancelled_export_leaves_no_file(qtbot, make_export, tmp_path):
    path = tmp_path / "cancelled.csv"
    export = make_export(path, keys=["name"], chunk_rows=20)
    export.progress.connect(lambda done, expected: export.cancel())
    with qtbot.waitSignal(export.cancelled, timeout=30000):
        export.start()
    assert export.state == "cancelled"
    assert 0 < export.rows_written < 600
    assert not path.exists()
    assert not list(tmp_path.iterdir())


def test_a_failed_export_says_so_and_leaves_no_file(qtbot, make_export, tmp_path):
    path = tmp_path / "missing-folder" / "x.csv"
    export = make_export(path)
    with qtbot.waitSignal(export.failed, timeout=30000) as blocker:
        export.start()
    assert isinstance(blocker.args[0], OSError)
    assert export.state == "failed"
    assert not path.parent.exists()


def test_an_export_runs_once(make_export, tmp_path, qtbot):
    export = make_export(tmp_path / "once.csv", keys=["name"])
    with qtbot.waitSignal(export.finished, timeout=30000):
        export.start()
    with pytest.raises(RuntimeError):
        export.start()


@pytest.fixture
def view(qtbot, ui_client) -> Iterator[ResourceView]:
    view = ResourceView(ui_client, "volume", base_filter=VOLUMES, title="Volumes")
    qtbot.addWidget(view)
    view.resize(1200, 600)
    view.show()
    qtbot.waitUntil(lambda: view.model.started and not view.model.is_loading, timeout=15000)
    yield view
    view.shutdown()
    process_events_until(lambda: not qt_async.running_tasks())


def test_the_view_exports_what_it_shows_with_a_progress_dialog(qtbot, view, ui_client, tmp_path):
    header = view.table.horizontalHeader()
    size = view.model.column_keys.index("size")
    header.moveSection(header.visualIndex(size), 0)
    view.set_quick_filter("sql")
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        view.apply_quick_filter()
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        view.model.set_sort("size", True)
    path = tmp_path / "view.csv"
    export = view.export_csv(path)
    assert export is not None
    dialog = view.findChild(QProgressDialog)
    assert dialog is not None and not dialog.isModal()
    with qtbot.waitSignal(export.finished, timeout=30000):
        pass
    rows = read(path)
    assert rows[0][:2] == ["Size", "Name"]
    expected = server_items(
        ui_client, select="id,name", where=VOLUMES & F("name").ilike("*sql*"), order=["size.desc", "id"]
    )
    assert [r[1] for r in rows[1:]] == [item["name"] for item in expected]
    qtbot.waitUntil(lambda: view.findChild(QProgressDialog) is None, timeout=5000)
    assert "Exported" in view.status_label.text()


def test_cancel_in_the_progress_dialog_stops_the_export(qtbot, view, tmp_path, monkeypatch):
    import console.ui.csv_export as module

    monkeypatch.setattr(module, "CHUNK_ROWS", 10)
    path = tmp_path / "stopped.csv"
    export = view.export_csv(path)
    dialog = view.findChild(QProgressDialog)
    with qtbot.waitSignal(export.cancelled, timeout=30000):
        dialog.findChild(QPushButton).click()
    assert not path.exists()
    assert "cancelled" in view.status_label.text()


def test_export_without_a_path_asks_for_one_without_blocking(qtbot, view, tmp_path):
    assert view.export_csv() is None
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible())
    # open(), not exec(): the event loop runs on, and only this window waits for the answer.
    assert dialog.windowModality() == Qt.WindowModality.WindowModal
    path = tmp_path / "chosen.csv"
    dialog.fileSelected.emit(str(path))
    dialog.close()
    export = view._exports[-1]
    with qtbot.waitSignal(export.finished, timeout=30000):
        pass
    assert path.exists()


def test_closing_the_view_during_an_export_ends_it_quietly(qtbot, ui_client, tmp_path, monkeypatch):
    import console.ui.csv_export as module

    monkeypatch.setattr(module, "CHUNK_ROWS", 10)
    reported: list[BaseException] = []
    qt_async.add_error_handler(reported.append)
    try:
        view = ResourceView(ui_client, "volume", base_filter=VOLUMES, title="Volumes")
        view.show()
        qtbot.waitUntil(lambda: view.model.started and not view.model.is_loading, timeout=15000)
        path = tmp_path / "closed.csv"
        export = view.export_csv(path)
        qtbot.waitUntil(lambda: export.rows_written > 0, timeout=15000)
        # What closing its tab does: shut the view down and delete it.
        view.shutdown()
        view.deleteLater()
        # The view is gone before the export's task takes its cancellation.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        process_events_until(lambda: not qt_async.running_tasks())
        assert reported == []
        assert not path.exists()
        assert not path.with_name("closed.csv.part").exists()
    finally:
        qt_async.remove_error_handler(reported.append)
