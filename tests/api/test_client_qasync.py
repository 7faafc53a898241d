"""The client on the Qt event loop (qasync), as the GUI runs it."""

from __future__ import annotations

import asyncio

import qasync

from console.api import PowerStoreClient, Trust, fetch_certificate
from tests.api.conftest import ADMIN


def test_the_client_runs_on_the_qt_event_loop(qapp, sim):
    loop = qasync.QEventLoop(qapp)

    async def work() -> tuple[int, int, str]:
        presented = await fetch_certificate("127.0.0.1", sim.port)
        pin = Trust.pinned(presented.fingerprint)
        async with PowerStoreClient(sim.base_url, *ADMIN, verify=pin) as client:
            walked = [v async for v in client.iterate("volume", select="id", page_size=10)]
            pages = await asyncio.gather(*(client.query("volume", limit=1) for _ in range(30)))
            return len(walked), len(pages), client.session.user

    try:
        walked, pages, user = loop.run_until_complete(work())
    finally:
        loop.close()
    assert walked > 10
    assert pages == 30
    assert user == "admin"
