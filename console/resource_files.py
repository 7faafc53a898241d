"""Locate the files under ``resources/``, in an installed copy or in a source checkout."""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path


def resource_root() -> Traversable:
    """The folder holding the shipped resources (icons, styles, the resource catalog)."""
    try:
        return importlib.resources.files("console._resources")
    except ModuleNotFoundError:
        # Running from a checkout without an install: resources/ sits beside the package.
        return Path(__file__).resolve().parent.parent / "resources"


def read_text(name: str) -> str:
    return resource_root().joinpath(name).read_text(encoding="utf-8")


def read_bytes(name: str) -> bytes:
    return resource_root().joinpath(name).read_bytes()
