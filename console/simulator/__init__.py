"""An embedded PowerStore REST API simulator (Starlette), for demos, training and tests.

``create_app(config)`` returns the ASGI app: serve it with uvicorn (``python -m console.simulator``)
or use it in-process through ``httpx.ASGITransport``.
"""

from console.simulator.app import create_app
from console.simulator.config import DEFAULT_PASSWORD, DEFAULT_USER, SimulatorConfig

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USER", "SimulatorConfig", "create_app"]
