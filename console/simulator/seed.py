"""Seed data: a plausible mid-size array, the same for the same ``--seed``."""

from __future__ import annotations

from console.simulator.handlers import files, hosts, protection_seed, system, volume_seed
from console.simulator.jobs import JobRunner
from console.simulator.operations import Caller, OpRequest, OpResult, Sim

HISTORY_JOBS = 60


def seed(sim: Sim) -> None:
    for module in (system, protection_seed, hosts, files, volume_seed):
        module.seed(sim)
    seed_job_history(sim)


def seed_job_history(sim: Sim) -> None:
    """Jobs that ran before the simulator started, as ``/job`` on a real array shows them."""
    volumes_ = sim.store.all("volume")[:HISTORY_JOBS]
    if not volumes_:
        return
    now = sim.now()
    real_clock = sim.clock
    moment = [now]
    sim.clock = lambda: moment[0]
    runner = JobRunner(sim, lambda request: OpResult(204, None, request.target_id))
    try:
        for index, volume in enumerate(volumes_):
            moment[0] = now - 86400 * 3 + index * 3600 * 1.1
            action = ("modify", "snapshot", "attach")[index % 3]
            request = OpRequest("volume", action, volume["id"], {}, Caller("admin", "1"))
            runner.submit(request, resource_name=volume["name"])
            moment[0] += 3600
            runner.advance()
    finally:
        sim.clock = real_clock
