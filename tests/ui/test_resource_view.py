"""The resource view as a user drives it, against the simulator over TLS: browsing every type of the
navigation, scrolling through pages, sorting by a header click, the quick filter, the filter builder,
the column chooser, refresh keys, related-resource navigation, and state that survives a reload."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QToolTip

from console.api import F
from console.presentation import FilterCondition
from console.ui import qt_async
from console.ui.filter_builder import ConditionRow
from console.ui.reference_names import ReferenceNames
from console.ui.resource_model import VALUE_ROLE
from console.ui.resource_view import ResourceView
from tests.ui.conftest import process_events_until, run

VOLUMES = F("type") != "Snapshot"
SNAPSHOTS = F("type") == "Snapshot"

# The navigation of the issue: (type, fixed filter, title).
NAVIGATION = [
    ("volume", VOLUMES, "Volumes"),
    ("volume_group", F("type") != "Snapshot", "Volume Groups"),
    ("volume", SNAPSHOTS, "Snapshots"),
    ("file_system", F("filesystem_type") != "Snapshot", "File Systems"),
    ("nas_server", None, "NAS Servers"),
    ("host", None, "Hosts"),
    ("host_group", None, "Host Groups"),
    ("policy", None, "Policies"),
    ("snapshot_rule", None, "Snapshot Rules"),
    ("replication_rule", None, "Replication Rules"),
    ("alert", None, "Alerts"),
    ("event", None, "Events"),
    ("job", F("parent_id").is_null(), "Jobs"),
    ("local_user", None, "Local Users"),
    ("role", None, "Roles"),
    ("appliance", None, "Appliances"),
    ("cluster", None, "Cluster"),
]

# The offscreen platform (the tests' display) warns that it cannot size windows to their hints.
pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")

SHOTS = os.environ.get("PSC_SCREENSHOTS")
"""A folder to save screenshots of the views in (to look at them); none are saved without it."""


def shoot(widget, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture
def make_view(qtbot, ui_client) -> Iterator[Callable[..., ResourceView]]:
    views: list[ResourceView] = []

    def make(type_name: str = "volume", base_filter=VOLUMES, title: str | None = None, show: bool = True):
        view = ResourceView(ui_client, type_name, base_filter=base_filter, title=title)
        qtbot.addWidget(view)
        views.append(view)
        view.resize(1300, 700)
        if show:
            view.show()
        return view

    yield make
    for view in views:
        view.shutdown()
    process_events_until(lambda: not qt_async.running_tasks())


def loaded(qtbot, view: ResourceView, timeout: int = 15000) -> None:
    qtbot.waitUntil(lambda: view.model.started and not view.model.is_loading, timeout=timeout)
    assert view.model.error is None, view.model.error


def column_of(view: ResourceView, key: str) -> int:
    return [c.key for c in view.model.shown_columns].index(key)


def texts(view: ResourceView, key: str) -> list[str]:
    column = column_of(view, key)
    return [view.model.data(view.model.index(r, column)) for r in range(view.model.rowCount())]


def server_ids(client, type_name: str, **kwargs) -> list[str]:
    async def walk() -> list[str]:
        return [item["id"] async for item in client.iterate(type_name, select="id", **kwargs)]

    return run(walk(), timeout=30)


def click_header(qtbot, view: ResourceView, key: str) -> None:
    header = view.table.horizontalHeader()
    logical = column_of(view, key)
    x = header.sectionViewportPosition(logical) + header.sectionSize(logical) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def scroll_to_end(qtbot, view: ResourceView) -> int:
    """Keep the scroll bar at the bottom, as a user scrolling on would, until no more rows come;
    the pages that came on the way."""
    bar = view.table.verticalScrollBar()
    root = view.table.rootIndex()
    seen = [view.model.rowCount(), 0]

    def at_end() -> bool:
        bar.setValue(bar.maximum())
        if view.model.rowCount() != seen[0]:
            seen[0] = view.model.rowCount()
            seen[1] += 1
        return not view.model.is_loading and not view.model.canFetchMore(root)

    qtbot.waitUntil(at_end, timeout=60000)
    loaded(qtbot, view)
    return seen[1]


@pytest.mark.parametrize(("type_name", "base_filter", "title"), NAVIGATION, ids=[n[2] for n in NAVIGATION])
def test_browse_every_type_of_the_navigation(qtbot, make_view, ui_client, type_name, base_filter, title):
    view = make_view(type_name, base_filter, title)
    with qtbot.waitSignal(view.firstPageLoaded, timeout=15000):
        pass
    loaded(qtbot, view)
    expected = run(ui_client.query(type_name, select="id", where=base_filter, limit=1))
    model = view.model
    assert model.total == expected.total > 0, title
    assert model.rowCount() == min(model.total, 200)
    assert model.columnCount() == len(view.model.presentation.default_columns(type_name, base_filter))
    first = [model.data(model.index(0, c)) for c in range(model.columnCount())]
    assert any(first), (title, first)
    assert f"{model.total:,}" in view.status_label.text()
    assert view.table.horizontalHeader().sortIndicatorSection() in (-1, *range(model.columnCount()))
    view.table.selectRow(0)
    qtbot.waitUntil(lambda: view.detail.record is not None, timeout=15000)
    assert view.detail.record["id"] == model.row_id(0)
    shoot(view, f"view-{title.lower().replace(' ', '-')}")


def test_scrolling_fetches_pages_until_every_volume_is_loaded(qtbot, make_view, ui_client):
    view = make_view()
    loaded(qtbot, view)
    assert view.model.total > 600
    pages = scroll_to_end(qtbot, view)
    assert pages >= 1
    model = view.model
    assert model.rowCount() == model.total
    assert model.ids(range(model.rowCount())) == server_ids(
        ui_client, "volume", where=VOLUMES, order=["name", "id"]
    )
    assert view.status_label.text() == f"{model.total:,} volumes"


def test_a_header_click_sorts_on_the_server_and_a_second_reverses(qtbot, make_view, ui_client):
    view = make_view()
    loaded(qtbot, view)
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        click_header(qtbot, view, "size")
    assert view.model.sort_order == [("size", False)]
    header = view.table.horizontalHeader()
    assert header.sortIndicatorSection() == column_of(view, "size")
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    page = run(ui_client.query("volume", select="id", where=VOLUMES, order=["size", "id"], limit=200))
    assert view.model.ids(range(200)) == [item["id"] for item in page.items]
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        click_header(qtbot, view, "size")
    assert view.model.sort_order == [("size", True)]
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    sizes = [view.model.data(view.model.index(r, column_of(view, "size")), VALUE_ROLE) for r in range(200)]
    assert sizes == sorted(sizes, reverse=True)


def test_a_click_on_a_column_the_array_cannot_sort_changes_nothing(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    click_header(qtbot, view, "volume_groups.name")
    assert view.model.sort_order == [("name", False)]
    assert not view.model.is_loading
    assert view.table.horizontalHeader().sortIndicatorSection() == column_of(view, "name")
    assert "cannot sort" in view.status_label.text()


def test_an_empty_result_says_so_over_the_table_and_offers_to_clear_the_filters(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    everything = view.model.total
    view.builder.set_conditions([FilterCondition("size", "gte", 1 << 60)])
    view.set_quick_filter("zzz-no-such-volume")
    view.apply_quick_filter()
    loaded(qtbot, view)
    assert view.model.rowCount() == 0
    assert view.empty_label.isVisible()
    assert view.empty_label.text() == "No volumes match the filters"
    assert view.clear_button.isVisible() and not view.retry_button.isVisible()
    shoot(view, "view-empty")
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    loaded(qtbot, view)
    assert view.model.total == everything
    assert view.quick_filter.text() == "" and view.builder.conditions() == []
    assert not view.empty_label.isVisible() and not view.clear_button.isVisible()


@pytest.mark.parametrize(
    ("type_name", "title", "one", "many"),
    [
        ("nas_server", "NAS Servers", "NAS server", "NAS servers"),
        ("policy", "Policies", "policy", "policies"),
    ],
)
def test_counts_are_said_in_running_text(qtbot, make_view, type_name, title, one, many):
    view = make_view(type_name, None, title)
    assert (view._noun(1), view._noun(2)) == (one, many)
    loaded(qtbot, view)
    total = view.model.total
    assert view.status_label.text() == f"{total:,} {one if total == 1 else many}"


def test_the_quick_filter_waits_for_a_pause_in_typing(qtbot, make_view, ui_client):
    view = make_view()
    loaded(qtbot, view)
    qtbot.keyClicks(view.quick_filter, "PROD")
    assert view.model.user_filter is None  # not yet: typing goes on
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        pass
    expected = server_ids(
        ui_client, "volume", where=VOLUMES & F("name").ilike("*prod*"), order=["name", "id"]
    )
    assert 0 < view.model.total == len(expected)
    scroll_to_end(qtbot, view)
    names = texts(view, "name")
    assert all("prod" in name.lower() for name in names)
    assert view.model.ids(range(view.model.rowCount())) == expected
    view.quick_filter.clear()
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        pass
    assert view.model.total > 600


def test_the_filter_builder_filters_on_any_field(qtbot, make_view, ui_client):
    view = make_view()
    loaded(qtbot, view)
    view.filter_action.trigger()
    assert view.builder.isVisible()
    row = view.builder.rows()[0]
    row.field_box.setCurrentIndex(row.field_box.findData("size"))
    row.op_box.setCurrentIndex(row.op_box.findData("gte"))
    qtbot.keyClicks(row.text_edit, "100 GiB")
    second = view.builder.add_row()
    second.field_box.setCurrentIndex(second.field_box.findData("state"))
    assert second.value_stack.currentWidget() is second.enum_box
    second.enum_box.setCurrentIndex(second.enum_box.findData("Ready"))
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        qtbot.mouseClick(view.builder.apply_button, Qt.MouseButton.LeftButton)
    where = VOLUMES & (F("size") >= 100 << 30) & (F("state") == "Ready")
    expected = server_ids(ui_client, "volume", where=where, order=["name", "id"])
    assert 0 < view.model.total == len(expected)
    scroll_to_end(qtbot, view)
    assert view.model.ids(range(view.model.rowCount())) == expected
    sizes = [view.model.data(view.model.index(r, column_of(view, "size")), VALUE_ROLE) for r in range(10)]
    assert min(sizes) >= 100 << 30
    assert view.filter_action.text() == "Filter (2)"
    assert "Size ≥ 100 GiB" in view.filter_action.toolTip()


def test_the_filter_builder_refuses_a_value_that_does_not_fit(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    view.filter_action.trigger()
    row = view.builder.rows()[0]
    row.field_box.setCurrentIndex(row.field_box.findData("size"))
    qtbot.keyClicks(row.text_edit, "huge")
    assert not view.builder.apply()
    assert "not a size" in view.builder.error_label.text()
    assert view.model.user_filter is None


def test_filter_builder_conditions_on_timestamps_and_embedded_fields(qtbot, make_view, ui_client):
    view = make_view("volume", SNAPSHOTS, "Snapshots")
    loaded(qtbot, view)
    source = run(ui_client.query("volume", select="protection_data", where=SNAPSHOTS, limit=1))
    source_id = source.items[0]["protection_data"]["source_id"]
    conditions = [
        FilterCondition("protection_data->>source_id", "eq", source_id),
        FilterCondition("creation_timestamp", "after", "2000-01-01T00:00:00.000+00:00"),
    ]
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        view.builder.set_conditions(conditions)
    where = SNAPSHOTS & (F("protection_data").key("source_id") == source_id)
    assert view.model.total == len(server_ids(ui_client, "volume", where=where)) > 0
    rows = view.builder.rows()
    assert rows[1].value_stack.currentWidget() is rows[1].date_edit
    again = rows[1].condition()
    assert (again.attr, again.op) == ("creation_timestamp", "after")
    assert dt.datetime.fromisoformat(again.value) == dt.datetime.fromisoformat(conditions[1].value)


def test_the_column_chooser_changes_and_orders_columns(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    chooser = view.choose_columns()
    assert chooser.isVisible()
    assert chooser.chosen_keys() == view.model.column_keys
    chooser.set_checked("wwn", False)
    chooser.set_checked("node_affinity", True)
    chooser.search.setText("affinity")
    visible = [
        chooser.list.item(i).text()
        for i in range(chooser.list.count())
        if not chooser.list.item(i).isHidden()
    ]
    assert visible == ["Node affinity"]
    with qtbot.waitSignal(view.model.modelReset, timeout=15000):
        chooser.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    loaded(qtbot, view)
    keys = view.model.column_keys
    assert "wwn" not in keys and keys[-1] == "node_affinity"
    headers = [view.model.headerData(c, Qt.Orientation.Horizontal) for c in range(view.model.columnCount())]
    assert headers[-1] == "Node affinity"
    assert all(texts(view, "node_affinity")[:20])
    assert "_" not in texts(view, "node_affinity")[0]


def test_columns_can_be_hidden_from_the_header_and_restored(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    defaults = view.model.column_keys
    with qtbot.waitSignal(view.model.modelReset, timeout=15000):
        view.set_columns([k for k in defaults if k != "state"])
    assert "state" not in view.model.column_keys
    chooser = view.choose_columns()
    chooser.restore_defaults()
    assert chooser.chosen_keys() == defaults
    chooser.reject()


def test_refresh_keys_reload_the_view(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus, timeout=5000)
    for key, modifier in (
        (Qt.Key.Key_F5, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier),
    ):
        with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
            qtbot.keyClick(view.table, key, modifier)


def test_reload_keeps_filter_sort_scroll_position_and_selection(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    view.set_quick_filter("-")
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        view.apply_quick_filter()
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        click_header(qtbot, view, "size")
    bar = view.table.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: view.model.rowCount() > 200, timeout=15000)
    loaded(qtbot, view)
    view.table.selectRow(250)
    view.table.selectionModel().select(
        view.model.index(252, 0),
        view.table.selectionModel().SelectionFlag.Select | view.table.selectionModel().SelectionFlag.Rows,
    )
    bar.setValue(bar.maximum() // 2)
    before = {
        "filter": view.model.user_filter,
        "sort": view.model.sort_order,
        "scroll": bar.value(),
        "selected": view.selected_ids(),
        "current": view.current_id(),
        "rows": view.model.rowCount(),
    }
    assert len(before["selected"]) == 2
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        view.reload()
    loaded(qtbot, view)
    qtbot.waitUntil(lambda: view.selected_ids() == before["selected"], timeout=5000)
    after = {
        "filter": view.model.user_filter,
        "sort": view.model.sort_order,
        "scroll": bar.value(),
        "selected": view.selected_ids(),
        "current": view.current_id(),
        "rows": view.model.rowCount(),
    }
    assert after == before


def test_state_saves_and_restores(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    view.set_columns(["name", "size", "node_affinity"])
    loaded(qtbot, view)
    view.table.horizontalHeader().resizeSection(0, 321)
    view.model.set_sort("size", True)
    view.set_quick_filter("sql")
    view.apply_quick_filter()
    view.builder.set_conditions([FilterCondition("size", "gte", 8 << 30)])
    loaded(qtbot, view)
    state = view.save_state()
    assert state["columns"] == ["name", "size", "node_affinity"]
    assert state["widths"]["name"] == 321
    assert state["sort"] == [["size", True]]
    assert state["quick_filter"] == "sql"
    assert state["filter"] == [{"attr": "size", "op": "gte", "value": 8 << 30}]

    again = make_view()
    again.restore_state(state)
    loaded(qtbot, again)
    assert again.model.column_keys == ["name", "size", "node_affinity"]
    assert again.model.sort_order == [("size", True)]
    assert again.quick_filter.text() == "sql"
    assert again.builder.conditions() == [FilterCondition("size", "gte", 8 << 30)]
    assert again.model.total == view.model.total
    assert again.table.horizontalHeader().sectionSize(0) == 321
    assert again.save_state()["columns"] == state["columns"]
    again.restore_state({"columns": "nonsense", "sort": [[1, 2]], "filter": [{"bad": 1}], "widths": []})
    assert again.model.column_keys == ["name", "size", "node_affinity"]


def test_columns_fit_their_first_rows_and_keep_that_width(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    header = view.table.horizontalHeader()
    metrics = view.table.fontMetrics()
    model = view.model
    rows = min(model.rowCount(), 50)
    for key in ("name", "state", "size"):
        column = column_of(view, key)
        widest = max(metrics.horizontalAdvance(model.text(row, column)) for row in range(rows))
        label = header.fontMetrics().horizontalAdvance(model.shown_columns[column].label)
        least = metrics.horizontalAdvance("0") * 20 if key == "name" else 0  # room for longer names
        # Every text of the first rows shows whole, and no column is much wider than its text or label.
        assert widest < header.sectionSize(column) <= max(widest, label, least) + 40, key
    fitted = {key: header.sectionSize(column_of(view, key)) for key in ("name", "state")}
    header.resizeSection(column_of(view, "size"), 333)
    view.model.set_sort("size", False)
    loaded(qtbot, view)
    # A new order brings other rows: the widths stay as they were, the user's too.
    assert {key: header.sectionSize(column_of(view, key)) for key in ("name", "state")} == fitted
    assert header.sectionSize(column_of(view, "size")) == 333


@pytest.mark.parametrize(
    "damage",
    [
        {"widths": {"name": 10**12, "size": True, "state": -5}},
        {"splitter": [10**12, 300]},
        {"filter": 5},
        {"filter": [5, "x", {"attr": "no_such_field", "op": "eq", "value": 1}, {"attr": "name"}]},
        {"filter": [{"attr": "size", "op": "no_such_operator", "value": 1}]},
    ],
)
def test_a_damaged_saved_state_is_ignored_where_damaged(qtbot, make_view, damage):
    # A settings file is user-editable: what is wrong in it is left out, the rest still applies.
    view = make_view(show=False)
    view.restore_state({"quick_filter": "sql", "sort": [["size", False]], **damage})
    view.show()
    loaded(qtbot, view)
    assert view.model.error is None
    assert view.model.rowCount() > 0
    assert all("sql" in name.lower() for name in texts(view, "name"))
    assert view.model.sort_order == [("size", False)]
    assert view.builder.conditions() == []
    assert view.builder.findChildren(ConditionRow) == []
    header = view.table.horizontalHeader()
    assert all(0 < header.sectionSize(i) <= 10_000 for i in range(header.count()))


def test_a_cell_cut_off_shows_its_whole_text_in_the_tooltip(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    name, size = column_of(view, "name"), column_of(view, "size")
    header = view.table.horizontalHeader()
    assert header.sectionSize(name) >= view.table.fontMetrics().horizontalAdvance("0") * 20
    header.resizeSection(name, 40)

    def tooltip_at(column: int) -> str:
        rect = view.table.visualRect(view.model.index(2, column))
        viewport = view.table.viewport()
        event = QHelpEvent(QEvent.Type.ToolTip, rect.center(), viewport.mapToGlobal(rect.center()))
        QApplication.sendEvent(viewport, event)
        text = QToolTip.text()
        QToolTip.hideText()
        return text

    assert tooltip_at(name) == view.model.text(2, name)
    # A cell that fits keeps the model's own tooltip (exact bytes).
    assert tooltip_at(size) == view.model.data(view.model.index(2, size), Qt.ItemDataRole.ToolTipRole)


def test_id_columns_show_the_names_of_what_they_point_to(qtbot, make_view, ui_client):
    snapshots = make_view("volume", SNAPSHOTS, "Snapshots")
    loaded(qtbot, snapshots)
    source = column_of(snapshots, "protection_data.source_id")
    model = snapshots.model
    assert model.headerData(source, Qt.Orientation.Horizontal) == "Source volume"
    ids = {model.data(model.index(r, source), VALUE_ROLE) for r in range(model.rowCount())} - {None}
    names = {
        v["id"]: v["name"]
        for v in run(
            ui_client.query("volume", select="id,name", where=F("id").is_in(sorted(ids)), limit=2000)
        ).items
    }
    qtbot.waitUntil(lambda: texts(snapshots, "protection_data.source_id")[0] in names.values(), timeout=10000)
    for row in range(model.rowCount()):
        value = model.data(model.index(row, source), VALUE_ROLE)  # the raw value stays the id
        if value is not None:
            assert model.text(row, source) == names[value]
            assert model.data(model.index(row, source), Qt.ItemDataRole.ToolTipRole) == f"volume {value}"

    assert snapshots.detail.placeholder.text() == "Select a snapshot to see its details."
    users = make_view("local_user", None, "Local Users")
    loaded(qtbot, users)
    role = column_of(users, "role_id")
    assert users.model.headerData(role, Qt.Orientation.Horizontal) == "Role"
    qtbot.waitUntil(lambda: "Administrator" in texts(users, "role_id"), timeout=10000)
    assert (
        make_view("alert", None, "Alerts").detail.placeholder.text() == "Select an alert to see its details."
    )
    shoot(snapshots, "view-snapshots-named")


def test_the_last_column_fills_the_table_but_never_makes_it_scroll(qtbot, make_view):
    view = make_view("appliance", None, "Appliances")
    loaded(qtbot, view)
    header = view.table.horizontalHeader()
    last = header.logicalIndex(header.count() - 1)
    own = view._fitted[view.model.shown_columns[last].key]
    view.resize(1900, 700)
    qtbot.waitUntil(lambda: header.length() == view.table.viewport().width())  # filled to the edge
    assert header.sectionSize(last) > own
    view.resize(900, 700)
    # Narrower than its columns: the last one is back to its own width, not the stretched one.
    qtbot.waitUntil(lambda: header.sectionSize(last) == own)
    assert header.length() > view.table.viewport().width()
    assert view.model.shown_columns[last].key not in view.save_state()["widths"]


def test_a_filled_last_column_moved_or_resized_keeps_only_its_own_width(qtbot, make_view):
    view = make_view("appliance", None, "Appliances")
    view.resize(1900, 700)
    loaded(qtbot, view)
    header = view.table.horizontalHeader()
    qtbot.waitUntil(lambda: header.length() == view.table.viewport().width())
    last = header.logicalIndex(header.count() - 1)
    key = view.model.shown_columns[last].key
    own = view._fitted[key]
    assert header.sectionSize(last) > own + 200  # stretched to the edge
    # The user's drag of its edge is what is saved, not the width it fills to.
    header.resizeSection(last, own + 20)
    assert view.save_state()["widths"][key] == own + 20
    # Moved to the front, it is no longer stretched: its own width, and the new last one fills.
    header.moveSection(header.count() - 1, 0)
    assert header.sectionSize(last) == own + 20
    assert header.length() == view.table.viewport().width()
    view.resize(700, 700)
    qtbot.waitUntil(lambda: header.length() > view.table.viewport().width())
    assert header.sectionSize(last) == own + 20


def test_the_empty_result_stays_centred_when_the_details_close(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    view.set_quick_filter("zzz-no-such-volume")
    view.apply_quick_filter()
    loaded(qtbot, view)
    assert view.empty_label.isVisible()
    view.details_action.setChecked(False)  # the table widens
    qtbot.waitUntil(lambda: view.empty_label.geometry() == view.table.viewport().rect())


def test_moved_columns_are_saved_in_their_order(qtbot, make_view):
    view = make_view()
    loaded(qtbot, view)
    header = view.table.horizontalHeader()
    header.moveSection(header.visualIndex(column_of(view, "size")), 0)
    assert view.save_state()["columns"][0] == "size"
    with qtbot.waitSignal(view.model.firstPageLoaded, timeout=15000):
        view.reload()
    assert header.logicalIndex(0) == column_of(view, "size")


def test_select_id_finds_a_row_far_down(qtbot, make_view, ui_client):
    view = make_view()
    loaded(qtbot, view)
    ids = server_ids(ui_client, "volume", where=VOLUMES, order=["name", "id"])
    target = ids[520]
    view.select_id(target)
    qtbot.waitUntil(lambda: view.selected_ids() == [target], timeout=15000)
    assert view.current_id() == target
    assert view.model.user_filter is None
    qtbot.waitUntil(
        lambda: view.detail.record is not None and view.detail.record["id"] == target, timeout=15000
    )


def test_select_id_beyond_the_search_filters_on_the_id(qtbot, make_view, ui_client, monkeypatch):
    import console.ui.resource_view as module

    monkeypatch.setattr(module, "SELECT_SEARCH_ROWS", 200)
    view = make_view()
    loaded(qtbot, view)
    target = server_ids(ui_client, "volume", where=VOLUMES, order=["name.desc", "id"])[0]
    view.select_id(target)
    qtbot.waitUntil(lambda: view.selected_ids() == [target], timeout=15000)
    assert view.model.total == 1
    assert [c.to_json() for c in view.builder.conditions()] == [{"attr": "id", "op": "eq", "value": target}]


def test_links_in_the_detail_pane_ask_the_shell_to_navigate(qtbot, make_view, ui_client):
    view = make_view()
    loaded(qtbot, view)
    with_policy = run(
        ui_client.query(
            "volume",
            select="id,protection_policy_id",
            where=VOLUMES & F("protection_policy_id").is_not_null(),
            limit=1,
        )
    ).items[0]
    view.select_id(with_policy["id"])
    qtbot.waitUntil(
        lambda: view.detail.record is not None and view.detail.record["id"] == with_policy["id"],
        timeout=15000,
    )
    link = next(link for link in view.detail.links() if link.type_name == "policy")
    with qtbot.waitSignal(view.relatedRequested, timeout=5000) as blocker:
        view.detail.open_link(link)
    assert blocker.args == ["policy", link.id]

    policies = make_view("policy", None, "Policies")
    loaded(qtbot, policies)
    policies.select_id(link.id)
    qtbot.waitUntil(lambda: policies.selected_ids() == [link.id], timeout=15000)


def test_a_failed_load_is_signalled_and_shown(qtbot, make_view):
    view = make_view("volume", F("size").ilike("*x*"), "Broken")
    with qtbot.waitSignal(view.loadFailed, timeout=15000) as blocker:
        pass
    assert blocker.args[0].status == 400
    assert view.status_label.text().startswith("Loading failed")
    assert view.retry_button.isVisible()
    shoot(view, "view-failed")
    with qtbot.waitSignal(view.loadFailed, timeout=15000):
        qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)  # tries again (and fails again)


def test_names_whose_lookup_failed_are_asked_for_again(qtbot, ui_client, ui_simulator):
    volumes = run(ui_client.query("volume", select="id,name", where=VOLUMES, limit=2)).items
    names = ReferenceNames(ui_client)
    with httpx.Client(verify=ui_simulator.ssl_context(), timeout=10) as control:
        control.post(f"{ui_simulator.origin}/__control/faults", json={"fail_next": 50})  # the array busy
        try:
            names.want({"volume": [v["id"] for v in volumes]})
            process_events_until(lambda: not names._tasks, 30)
            assert names.name("volume", volumes[0]["id"]) is None
        finally:
            control.post(f"{ui_simulator.origin}/__control/faults", json={"fail_next": 0})
    names.want({"volume": [v["id"] for v in volumes]})  # the next page, or the reload after recovery
    process_events_until(lambda: not names._tasks, 30)
    assert [names.name("volume", v["id"]) for v in volumes] == [v["name"] for v in volumes]
