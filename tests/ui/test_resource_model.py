"""The lazy resource table model against the simulator over TLS: paging, sorting, filtering, columns,
stale pages, failures, and Qt's own model checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QModelIndex, Qt

from console.api import ApiError, F, Order
from console.ui import qt_async
from console.ui.resource_model import ID_ROLE, KEY_ROLE, VALUE_ROLE, ResourceModel
from tests.ui.conftest import process_events_until, run

VOLUMES = F("type") != "Snapshot"
ROOT = QModelIndex()


@pytest.fixture
def make_model(ui_client) -> Iterator[Callable[..., ResourceModel]]:
    models: list[ResourceModel] = []

    def make(type_name: str = "volume", **kwargs) -> ResourceModel:
        model = ResourceModel(ui_client, type_name, **kwargs)
        models.append(model)
        return model

    yield make
    for model in models:
        model.cancel()
    process_events_until(lambda: not qt_async.running_tasks())


def wait_idle(qtbot, model: ResourceModel, timeout: int = 15000) -> None:
    qtbot.waitUntil(lambda: model.started and not model.is_loading, timeout=timeout)
    assert model.error is None, model.error


def server_ids(client, type_name: str, **kwargs) -> list[str]:
    async def walk() -> list[str]:
        return [item["id"] async for item in client.iterate(type_name, select="id", **kwargs)]

    return run(walk(), timeout=30)


def all_rows(qtbot, model: ResourceModel) -> None:
    while model.canFetchMore(ROOT):
        model.fetchMore(ROOT)
        wait_idle(qtbot, model)


def test_qt_model_checks_pass(qtbot, qtmodeltester, make_model):
    model = make_model(base_filter=VOLUMES, first_page_size=50, page_size=100)
    model.start()
    wait_idle(qtbot, model)
    qtmodeltester.check(model, force_py=True)
    wait_idle(qtbot, model)
    assert model.rowCount() >= 50
    # And Qt's own tester (QAbstractItemModelTester), which also watches the signals of later pages.
    qtmodeltester.check(model)
    model.fetchMore(ROOT)
    wait_idle(qtbot, model)
    model.set_sort("size", True)
    wait_idle(qtbot, model)
    assert model.rowCount() == 50


def test_the_first_page_is_small_and_the_total_comes_from_the_server(qtbot, make_model, ui_client):
    model = make_model(base_filter=VOLUMES)
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.start()
    expected = run(ui_client.query("volume", select="id", where=VOLUMES, limit=1))
    assert model.total == expected.total > 600
    assert model.rowCount() == 200
    assert model.canFetchMore(ROOT)
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:4] == ["Name", "State", "Type", "Size"]
    assert model.headerData(3, Qt.Orientation.Horizontal, KEY_ROLE) == "size"


def test_cells_are_formatted_with_raw_values_and_tooltips_alongside(qtbot, make_model, ui_client):
    model = make_model(base_filter=VOLUMES, columns=["name", "size", "state", "creation_timestamp"])
    model.start()
    wait_idle(qtbot, model)
    row = 0
    volume = run(ui_client.get("volume", model.row_id(row), select="name,size,state_l10n"))
    size = model.index(row, 1)
    assert model.data(model.index(row, 0)) == volume["name"]
    assert model.data(size, VALUE_ROLE) == volume["size"]
    assert model.data(size).endswith("iB")
    assert model.data(size, Qt.ItemDataRole.ToolTipRole) == f"{volume['size']:,} bytes"
    assert model.data(size, Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    assert model.data(model.index(row, 2)) == volume["state_l10n"]
    assert model.data(size, ID_ROLE) == model.row_id(row)
    assert "UTC" in model.data(model.index(row, 3), Qt.ItemDataRole.ToolTipRole)


def test_paging_fetches_every_row_in_the_servers_order(qtbot, make_model, ui_client):
    model = make_model(base_filter=VOLUMES, first_page_size=100, page_size=250)
    model.start()
    wait_idle(qtbot, model)
    pages = 1
    while model.canFetchMore(ROOT):
        before = model.rowCount()
        with qtbot.waitSignal(model.rowsInserted, timeout=15000):
            model.fetchMore(ROOT)
        wait_idle(qtbot, model)
        assert model.rowCount() == min(before + 250, model.total)
        pages += 1
    assert model.rowCount() == model.total
    assert pages == 1 + -(-(model.total - 100) // 250)
    expected = server_ids(ui_client, "volume", where=VOLUMES, order=["name", "id"])
    assert model.ids(range(model.rowCount())) == expected
    assert model.order == (Order("name"), Order("id"))


def test_a_second_fetch_more_while_one_runs_is_ignored(qtbot, make_model):
    model = make_model(base_filter=VOLUMES, first_page_size=100, page_size=100)
    model.start()
    wait_idle(qtbot, model)
    model.fetchMore(ROOT)
    assert not model.canFetchMore(ROOT)
    model.fetchMore(ROOT)
    wait_idle(qtbot, model)
    assert model.rowCount() == 200
    assert len(set(model.ids(range(200)))) == 200


def test_sorting_asks_the_server(qtbot, make_model, ui_client):
    model = make_model(base_filter=VOLUMES, first_page_size=300)
    model.start()
    wait_idle(qtbot, model)
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.sort(3, Qt.SortOrder.DescendingOrder)  # size
    assert model.sort_order == [("size", True)]
    page = run(
        ui_client.query("volume", select="id,size", where=VOLUMES, order=["size.desc", "id"], limit=300)
    )
    assert model.ids(range(model.rowCount())) == [item["id"] for item in page.items]
    sizes = [model.data(model.index(r, 3), VALUE_ROLE) for r in range(model.rowCount())]
    assert sizes == sorted(sizes, reverse=True)
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.set_sort("protection_policy.name")
    page = run(
        ui_client.query(
            "volume", select="id", where=VOLUMES, order=["protection_policy.name", "id"], limit=300
        )
    )
    assert model.ids(range(model.rowCount())) == [item["id"] for item in page.items]


def test_columns_that_cannot_be_sorted_are_left_alone(qtbot, make_model):
    model = make_model(base_filter=VOLUMES, columns=["name", "volume_groups.name"])
    model.start()
    wait_idle(qtbot, model)
    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert model.sort_order == [("name", False)]
    assert not model.is_loading


def test_a_page_of_an_older_sort_is_dropped(qtbot, make_model, ui_client):
    model = make_model(base_filter=VOLUMES, first_page_size=100, page_size=500)
    model.start()
    wait_idle(qtbot, model)
    model.fetchMore(ROOT)  # a page by name is now on its way...
    model.set_sort("size", True)  # ...and the user sorts by size before it lands
    wait_idle(qtbot, model)
    expected = run(
        ui_client.query("volume", select="id", where=VOLUMES, order=["size.desc", "id"], limit=100)
    )
    assert model.ids(range(model.rowCount())) == [item["id"] for item in expected.items]
    assert model.rowCount() == 100


def test_a_filter_refetches_with_the_servers_total(qtbot, make_model, ui_client):
    model = make_model(base_filter=VOLUMES)
    model.start()
    wait_idle(qtbot, model)
    where = F("name").ilike("*prod*") & (F("size") >= 32 << 30)
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.set_filter(where)
    all_rows(qtbot, model)
    expected = server_ids(ui_client, "volume", where=VOLUMES & where, order=["name", "id"])
    assert 0 < model.total == len(expected) < 600
    assert model.ids(range(model.rowCount())) == expected
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.set_filter(None)
    assert model.total > 600


def test_changing_columns_refetches_and_keeps_the_rows_loaded(qtbot, make_model):
    model = make_model(base_filter=VOLUMES, first_page_size=100, page_size=100)
    model.start()
    wait_idle(qtbot, model)
    model.fetchMore(ROOT)
    wait_idle(qtbot, model)
    ids = model.ids(range(model.rowCount()))
    with qtbot.waitSignal(model.modelReset, timeout=15000):
        model.set_columns(["name", "node_affinity", "appliance.name"])
    wait_idle(qtbot, model)
    assert model.columnCount() == 3
    assert model.ids(range(model.rowCount())) == ids
    assert "node_affinity_l10n" in model.select and "appliance(name)" in model.select
    assert model.data(model.index(0, 2)).startswith("PS-")


def test_collections_without_server_queries_page_and_sort_too(qtbot, make_model, ui_client):
    model = make_model("local_user", first_page_size=2, page_size=2)
    model.start()
    wait_idle(qtbot, model)
    assert model.rowCount() == 2 and model.total == 6
    all_rows(qtbot, model)
    names = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
    assert names == sorted(names, key=str.casefold)
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.set_sort("name", True)
    assert model.data(model.index(0, 0)) == max(names, key=str.casefold)
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.set_filter(F("is_locked").is_true())
    assert model.total == 1


def test_a_refused_query_is_reported_not_raised(qtbot, make_model):
    model = make_model(base_filter=F("size").ilike("*x*"))
    with qtbot.waitSignal(model.loadFailed, timeout=15000) as blocker:
        model.start()
    assert isinstance(blocker.args[0], ApiError) and blocker.args[0].status == 400
    assert model.error is blocker.args[0]
    assert not model.canFetchMore(ROOT)
    assert not model.is_loading


def test_reload_keeps_as_many_rows_as_were_loaded(qtbot, make_model):
    model = make_model(base_filter=VOLUMES, first_page_size=100, page_size=300)
    model.start()
    wait_idle(qtbot, model)
    model.fetchMore(ROOT)
    wait_idle(qtbot, model)
    ids = model.ids(range(model.rowCount()))
    with qtbot.waitSignal(model.firstPageLoaded, timeout=15000):
        model.reload()
    assert model.ids(range(model.rowCount())) == ids


def test_load_until_pages_to_a_row(qtbot, make_model, ui_client):
    model = make_model(base_filter=VOLUMES, first_page_size=100, page_size=200)
    model.start()
    wait_idle(qtbot, model)
    target = server_ids(ui_client, "volume", where=VOLUMES, order=["name", "id"])[450]
    assert run(model.load_until(target, 1000)) == 450
    assert model.rowCount() == 500
    assert run(model.load_until("no-such-id", 600)) is None
