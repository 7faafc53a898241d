"""Fixtures for the job engine: a simulator child process over TLS per test module, reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from console.api import PowerStoreClient
from tests.jobs.helpers import Control, client_for
from tests.simulator.process import SimulatorProcess


@pytest.fixture(scope="session")
def jobs_cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs-simulator-certs")


@pytest.fixture(scope="module")
def sim(jobs_cert_dir: Path) -> Iterator[SimulatorProcess]:
    args = ["--control", "--job-seconds", "0.5", "--volumes", "20"]
    with SimulatorProcess(cert_dir=jobs_cert_dir, args=args) as process:
        yield process


@pytest.fixture
async def control(sim: SimulatorProcess) -> Control:
    ctl = Control(sim)
    await ctl.reset()
    await ctl.config(job_seconds=0.5)
    return ctl


@pytest.fixture
async def client(control: Control, sim: SimulatorProcess) -> AsyncIterator[PowerStoreClient]:
    async with client_for(sim) as api:
        yield api


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "jobs.sqlite3"
