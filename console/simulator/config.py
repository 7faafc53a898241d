"""Settings of one simulator instance (the command line maps onto these)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "Password123#"


@dataclass
class SimulatorConfig:
    volumes: int = 40
    """Ordinary volumes in the seed data (snapshots, clones and the rest come on top)."""
    job_seconds: float = 3.0
    """Typical duration of an async job; each job varies within a band around it."""
    idle_timeout: int = 3600
    """Seconds a session may stay unused before it expires."""
    seed: int = 1
    """Makes seed data, ids and job durations reproducible."""
    state_file: Path | None = None
    """Where resources and jobs persist across restarts (None: in memory only)."""
    fault_rate: float = 0.0
    """Share of API requests answered 503 or with a dropped connection."""
    latency_ms: float = 0.0
    """Extra delay added to every API request."""
    control: bool = False
    """Serve the test-only control endpoint under /__control/."""
    max_body_bytes: int = 1024 * 1024
