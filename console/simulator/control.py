"""A test-only control endpoint under ``/__control/`` (served only with ``--control``).

It changes fault injection and settings at run time, ages the clock, ends sessions, resets the
data, and reports counters that tests assert on (logins, requests).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from console.simulator.app import Simulator

PREFIX = "/__control"
SETTABLE_CONFIG = {"idle_timeout": int, "job_seconds": float}


def routes(simulator: Simulator) -> list[Route]:
    async def stats(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "logins": simulator.sessions.logins,
                "sessions": len(simulator.sessions),
                "active_jobs": simulator.runner.active_count,
                "requests": dict(simulator.requests),
                "faults": simulator.faults.to_json(),
            }
        )

    async def reset(_request: Request) -> JSONResponse:
        simulator.reset()
        return JSONResponse({"reset": True})

    async def faults(request: Request) -> JSONResponse:
        try:
            simulator.faults.update(**await _json_object(request))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(simulator.faults.to_json())

    async def expire_sessions(_request: Request) -> JSONResponse:
        return JSONResponse({"expired": simulator.sessions.expire_all()})

    async def config(request: Request) -> JSONResponse:
        changes = await _json_object(request)
        unknown = set(changes) - set(SETTABLE_CONFIG)
        if unknown:
            return JSONResponse({"error": f"cannot set {sorted(unknown)}"}, status_code=400)
        for name, value in changes.items():
            setattr(simulator.config, name, SETTABLE_CONFIG[name](value))
        return JSONResponse({name: getattr(simulator.config, name) for name in SETTABLE_CONFIG})

    async def clock(request: Request) -> JSONResponse:
        """Move the simulator's clock forward (``{"advance": seconds}``): sessions age, jobs run."""
        advance = float((await _json_object(request)).get("advance", 0))
        previous = simulator.sim.clock
        simulator.sim.clock = lambda: previous() + advance
        simulator.runner.advance()
        return JSONResponse({"now": simulator.sim.timestamp(), "wall": time.time()})

    return [
        Route(PREFIX + "/stats", stats, methods=["GET"]),
        Route(PREFIX + "/reset", reset, methods=["POST"]),
        Route(PREFIX + "/faults", faults, methods=["POST"]),
        Route(PREFIX + "/expire_sessions", expire_sessions, methods=["POST"]),
        Route(PREFIX + "/config", config, methods=["POST"]),
        Route(PREFIX + "/clock", clock, methods=["POST"]),
    ]


async def _json_object(request: Request) -> dict[str, Any]:
    data = await request.json()
    return data if isinstance(data, dict) else {}
