"""The remembered layout round-trips, and a damaged file gives defaults instead of an error."""

from __future__ import annotations

from console import settings


def test_settings_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    saved = settings.Settings(
        geometry=b"\x01\x02geometry",
        window_state=b"\x00state",
        last_connections=["a", "b"],
        open_views={"a": ["volumes", "hosts"]},
        current_view=["a", "hosts"],
        view_states={"volumes": {"columns": ["name", "size"], "sort": ["size", "desc"]}},
    )
    settings.save(saved, path)
    assert settings.load(path) == saved


def test_a_missing_or_damaged_file_gives_defaults(tmp_path):
    assert settings.load(tmp_path / "missing.json") == settings.Settings()
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{ not json")
    assert settings.load(damaged) == settings.Settings()
    odd = tmp_path / "odd.json"
    odd.write_text(
        '{"geometry": "%%%", "last_connections": [1, "a"], "open_views": {"a": "x"}, "current_view": [1]}'
    )
    loaded = settings.load(odd)
    assert loaded.geometry == b""
    assert loaded.last_connections == ["a"]
    assert loaded.open_views == {}
    assert loaded.current_view == []
