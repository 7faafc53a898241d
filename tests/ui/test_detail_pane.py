"""The detail pane against the simulator over TLS: fields grouped, related resources as links that ask
for navigation, the raw JSON, and resources that vanished."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl

from console.api import F
from console.presentation import presentation
from console.ui import qt_async
from console.ui.detail_pane import DetailPane, link_url, parse_link
from tests.ui.conftest import process_events_until, run

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")

SHOTS = os.environ.get("PSC_SCREENSHOTS")


@pytest.fixture
def make_pane(qtbot, ui_client) -> Iterator[Callable[[str], DetailPane]]:
    panes: list[DetailPane] = []

    def make(type_name: str) -> DetailPane:
        pane = DetailPane(ui_client, type_name, presentation())
        qtbot.addWidget(pane)
        pane.resize(420, 800)
        pane.show()
        panes.append(pane)
        return pane

    yield make
    for pane in panes:
        pane.cancel()
    process_events_until(lambda: not qt_async.running_tasks())


def show(qtbot, pane: DetailPane, resource_id: str) -> None:
    with qtbot.waitSignal(pane.loaded, timeout=15000):
        pane.show_id(resource_id)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        pane.grab().save(str(Path(SHOTS) / f"detail-{pane.objectName()}-{resource_id[:8]}.png"))


def items_of(pane: DetailPane) -> dict:
    return {item.key: item for group in pane.groups for item in group.items}


def find(client, type_name: str, select: str, where=None, test=lambda item: True) -> dict:
    async def first() -> dict:
        async for item in client.iterate(type_name, select=select, where=where):
            if test(item):
                return item
        raise AssertionError(f"no {type_name} fits")

    return run(first(), timeout=30)


def test_a_volume_shows_grouped_fields_links_and_json(qtbot, make_pane, ui_client):
    volume = find(
        ui_client,
        "volume",
        "id,name,size,volume_groups(id),mapped_volumes(id)",
        where=F("type") != "Snapshot",
        test=lambda v: v["volume_groups"] and v["mapped_volumes"],
    )
    pane = make_pane("volume")
    show(qtbot, pane, volume["id"])
    titles = [g.title for g in pane.groups]
    assert titles[:5] == ["General", "Capacity", "References", "Related", "Dates"]
    assert "Protection data" in titles
    items = items_of(pane)
    assert items["name"].text == volume["name"]
    assert items["size"].tooltip == f"{volume['size']:,} bytes"
    links = {(link.type_name, link.id) for link in pane.links()}
    assert ("volume_group", volume["volume_groups"][0]["id"]) in links
    mapped = list(items["mapped_volumes"].links)
    assert mapped and all(link.type_name in ("host", "host_group") for link in mapped)
    assert all("(LUN " in link.text for link in mapped)
    raw = json.loads(pane.json_view.toPlainText())
    assert raw["id"] == volume["id"] and raw["size"] == volume["size"]
    html = pane.browser.toHtml()
    assert volume["name"] in html and link_url(mapped[0]) in html


def test_a_volume_links_to_its_policies_by_name(qtbot, make_pane, ui_client):
    volume = find(
        ui_client,
        "volume",
        "id,protection_policy(id,name)",
        where=(F("type") != "Snapshot") & F("protection_policy_id").is_not_null(),
    )
    pane = make_pane("volume")
    show(qtbot, pane, volume["id"])
    policy = items_of(pane)["protection_policy_id"]
    assert policy.label == "Protection policy"
    assert policy.text == volume["protection_policy"]["name"]
    assert [(link.type_name, link.id) for link in policy.links] == [
        ("policy", volume["protection_policy"]["id"])
    ]


def test_a_reference_given_by_id_only_is_shown_by_name(qtbot, make_pane, ui_client):
    # A volume names its performance policy by id alone (no relation to select the name through).
    volume = find(ui_client, "volume", "id,performance_policy_id", where=F("type") != "Snapshot")
    policy = run(ui_client.get("policy", volume["performance_policy_id"], select="id,name"))
    assert policy["name"] != policy["id"]
    pane = make_pane("volume")
    show(qtbot, pane, volume["id"])
    item = items_of(pane)["performance_policy_id"]
    assert item.text == policy["name"]
    assert [(link.type_name, link.id, link.text) for link in item.links] == [
        ("policy", policy["id"], policy["name"])
    ]
    shown = pane.browser.toPlainText()
    assert policy["name"] in shown and policy["id"] not in shown


def test_a_link_click_asks_for_navigation(qtbot, make_pane, ui_client):
    host = find(ui_client, "host", "id,host_group_id", test=lambda h: h["host_group_id"])
    pane = make_pane("host")
    show(qtbot, pane, host["id"])
    group = next(link for link in pane.links() if link.type_name == "host_group")
    assert group.id == host["host_group_id"]
    with qtbot.waitSignal(pane.relatedRequested, timeout=5000) as blocker:
        pane.browser.anchorClicked.emit(QUrl(link_url(group)))
    assert blocker.args == ["host_group", host["host_group_id"]]
    volumes = [link for link in items_of(pane)["mapped_hosts"].links]
    assert volumes and all(link.type_name == "volume" for link in volumes)
    assert "Port name" in items_of(pane)["initiators"].text


def test_a_snapshot_links_to_its_source_volume(qtbot, make_pane, ui_client):
    snapshot = find(ui_client, "volume", "id,protection_data", where=F("type") == "Snapshot")
    pane = make_pane("volume")
    show(qtbot, pane, snapshot["id"])
    source = items_of(pane)["protection_data.source_id"]
    assert [(link.type_name, link.id) for link in source.links] == [
        ("volume", snapshot["protection_data"]["source_id"])
    ]


def test_an_alert_links_to_the_resource_it_is_about(qtbot, make_pane, ui_client):
    alert = find(
        ui_client, "alert", "id,resource_type,resource_id", test=lambda a: a["resource_type"] == "host"
    )
    pane = make_pane("alert")
    show(qtbot, pane, alert["id"])
    assert [(link.type_name, link.id) for link in items_of(pane)["resource_id"].links] == [
        ("host", alert["resource_id"])
    ]
    assert "<h2>" in pane.browser.toHtml() or pane.browser.toPlainText().strip()


def test_a_resource_that_is_gone_says_so(qtbot, make_pane):
    pane = make_pane("volume")
    pane.show_id("00000000-0000-0000-0000-000000000000")
    qtbot.waitUntil(lambda: "no longer" in pane.placeholder.text(), timeout=15000)
    assert pane.record is None and not pane.tabs.isVisible()


def test_quick_changes_of_selection_load_only_the_last(qtbot, make_pane, ui_client):
    ids = [item["id"] for item in run(ui_client.query("host", select="id", limit=3)).items]
    pane = make_pane("host")
    loaded: list[str] = []
    pane.loaded.connect(loaded.append)
    for resource_id in ids:
        pane.show_id(resource_id)
    qtbot.waitUntil(lambda: pane.record is not None, timeout=15000)
    qtbot.wait(300)
    assert loaded == [ids[-1]]
    pane.show_id(None)
    assert pane.record is None and pane.placeholder.isVisible()


def test_links_survive_the_trip_through_urls():
    from console.presentation import Link

    link = Link("volume", "name:db 01/x", "db")
    assert parse_link(QUrl(link_url(link))) == ("volume", "name:db 01/x")
    assert parse_link("https://example.com") is None
    assert parse_link("related:volume") is None
