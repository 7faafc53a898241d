"""The navigation data: grouped as the array's UI, every entry a real type, fixed filters valid."""

from __future__ import annotations

import pytest

from console.api.expressions import to_params
from console.catalog import load_catalog
from console.navigation import NavigationError, load_navigation, parse, type_label


def test_groups_follow_the_arrays_own_ui():
    nav = load_navigation()
    assert [g.label for g in nav.groups] == [
        "Storage",
        "Compute",
        "Protection",
        "Monitoring",
        "Settings",
        "System",
    ]
    by_group = {g.label: [e.label for e in g.entries] for g in nav.groups}
    assert by_group["Storage"] == ["Volumes", "Volume Groups", "Snapshots", "File Systems", "NAS Servers"]
    assert by_group["Compute"] == ["Hosts", "Host Groups"]
    assert by_group["Protection"] == ["Policies", "Snapshot Rules", "Replication Rules"]
    assert by_group["Monitoring"] == ["Alerts", "Events", "Jobs"]
    assert by_group["Settings"] == ["Local Users", "Roles"]
    assert by_group["System"] == ["Appliances", "Cluster"]
    assert nav.default_entry.id == "volumes"


def test_fixed_filters_render_as_api_parameters():
    nav = load_navigation()
    assert to_params(nav.entry("volumes").base_filter) == [("type", "neq.Snapshot")]
    assert to_params(nav.entry("snapshots").base_filter) == [("type", "eq.Snapshot")]
    assert to_params(nav.entry("jobs").base_filter) == [("parent_id", "is.null")]
    assert nav.entry("hosts").base_filter is None


def test_types_outside_the_tree_get_an_entry_of_their_own():
    nav = load_navigation()
    assert nav.entry_for_type("volume").id == "volumes"
    extra = nav.entry_for_type("host_volume_mapping")
    assert (extra.id, extra.label, extra.type) == (
        "type:host_volume_mapping",
        "Host Volume Mappings",
        "host_volume_mapping",
    )
    assert type_label("nas_server") == "NAS Servers"
    assert type_label("address") == "Addresses"


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"id": "x", "label": "X", "type": "nope"}, "unknown resource type"),
        (
            {
                "id": "x",
                "label": "X",
                "type": "volume",
                "filter": [{"field": "colour", "op": "eq", "value": 1}],
            },
            "no field",
        ),
        (
            {
                "id": "x",
                "label": "X",
                "type": "volume",
                "filter": [{"field": "type", "op": "like", "value": "a"}],
            },
            "operator",
        ),
        (
            {
                "id": "x",
                "label": "X",
                "type": "volume",
                "filter": [{"field": "type", "op": "eq", "value": "Snap"}],
            },
            "VolumeTypeEnum",
        ),
    ],
)
def test_bad_navigation_data_is_refused(entry, words):
    data = {"format": 1, "groups": [{"id": "g", "label": "G", "entries": [entry]}]}
    with pytest.raises(NavigationError, match=words):
        parse(data, load_catalog())


def test_duplicate_entry_ids_are_refused():
    entry = {"id": "x", "label": "X", "type": "volume"}
    data = {"format": 1, "groups": [{"id": "g", "label": "G", "entries": [entry, entry]}]}
    with pytest.raises(NavigationError, match="twice"):
        parse(data, load_catalog())
