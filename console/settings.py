"""The console's remembered layout: window geometry and docks, the arrays that were connected,
their open views, and each view's columns, sort and filter. A JSON file in the config directory.

Never a secret: the values come from the window and from ``ResourceView.save_state()``. A file that
cannot be read starts the console with defaults (and is replaced at the next save: unlike the
connections file, nothing in it is hard to recreate).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console import paths

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass
class Settings:
    geometry: bytes = b""
    window_state: bytes = b""
    last_connections: list[str] = field(default_factory=list)
    """Ids of the connections that were connected at the last quit, in order."""
    open_views: dict[str, list[str]] = field(default_factory=dict)
    """Connection id -> navigation entry ids of its open tabs."""
    current_view: list[str] = field(default_factory=list)
    """[connection id, entry id] of the tab that was in front."""
    view_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Navigation entry id -> what ``ResourceView.save_state()`` returned."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "geometry": base64.b64encode(self.geometry).decode("ascii"),
            "window_state": base64.b64encode(self.window_state).decode("ascii"),
            "last_connections": self.last_connections,
            "open_views": self.open_views,
            "current_view": self.current_view,
            "view_states": self.view_states,
        }

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        if not isinstance(data, dict):
            return cls()
        out = cls()
        out.geometry = _bytes(data.get("geometry"))
        out.window_state = _bytes(data.get("window_state"))
        last = data.get("last_connections")
        if isinstance(last, list):
            out.last_connections = [x for x in last if isinstance(x, str)]
        views = data.get("open_views")
        if isinstance(views, dict):
            out.open_views = {
                k: [e for e in v if isinstance(e, str)]
                for k, v in views.items()
                if isinstance(k, str) and isinstance(v, list)
            }
        current = data.get("current_view")
        if isinstance(current, list) and len(current) == 2 and all(isinstance(x, str) for x in current):
            out.current_view = list(current)
        states = data.get("view_states")
        if isinstance(states, dict):
            out.view_states = {k: v for k, v in states.items() if isinstance(k, str) and isinstance(v, dict)}
        return out


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def load(path: Path | None = None) -> Settings:
    path = path if path is not None else paths.settings_file()
    try:
        return Settings.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable settings %s: %s", path, exc)
        return Settings()


def save(settings: Settings, path: Path | None = None) -> None:
    path = path if path is not None else paths.settings_file()
    paths.write_atomic(path, json.dumps(settings.to_json(), indent=1, sort_keys=True) + "\n")
