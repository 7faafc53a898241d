"""--demo's simulator child: starts on a free loopback port, is trusted through exactly its CA, stops."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.api import PowerStoreClient, TlsTrustError, Trust
from console.demo import DEMO_PASSWORD, DEMO_USER, DemoError, DemoSimulator
from console.simulator.config import DEFAULT_PASSWORD, DEFAULT_USER
from tests.simulator.process import REPO_ROOT


def test_demo_credentials_are_the_simulators_seeded_ones():
    assert (DEMO_USER, DEMO_PASSWORD) == (DEFAULT_USER, DEFAULT_PASSWORD)


async def test_the_demo_simulator_serves_over_tls_trusted_by_its_own_ca(tmp_path):
    demo = DemoSimulator(cert_dir=tmp_path / "certs", volumes=5)
    try:
        array = await demo.start()
        assert array.origin.startswith("https://127.0.0.1:")
        assert array.ca_path.is_relative_to(tmp_path / "certs")
        async with PowerStoreClient(
            array.origin, array.user, array.password, verify=str(array.ca_path)
        ) as client:
            page = await client.query("volume", select="id,name", limit=5)
            assert len(page.items) == 5
        # Exactly that CA: the system store does not know it.
        async with PowerStoreClient(
            array.origin, array.user, array.password, verify=Trust.system()
        ) as client:
            pass
    except TlsTrustError:
        pass
    else:
        pytest.fail("the system trust store accepted the demo certificate")
    finally:
        status = demo.stop()
    assert status == 0
    assert not demo.running


async def test_an_unusable_certificate_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    demo = DemoSimulator(cert_dir=blocker / "certs", volumes=1)
    with pytest.raises(DemoError, match="demo certificates"):
        await demo.start(timeout=30)
    assert not demo.running


async def test_a_child_that_exits_early_is_reported_with_its_output(tmp_path):
    demo = DemoSimulator(cert_dir=tmp_path / "certs", volumes=1, extra_args=["--job-seconds", "soon"])
    with pytest.raises(DemoError, match=r"exited with status 2(.|\n)*--job-seconds"):
        await demo.start(timeout=30)
    demo.stop()
    assert not demo.running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_the_child_ends_even_when_the_console_is_killed(tmp_path):
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from console.demo import DemoSimulator\n"
        f"demo = DemoSimulator(cert_dir=Path({str(tmp_path / 'certs')!r}), volumes=1)\n"
        "asyncio.run(demo.start())\n"
        "print(demo.process.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    console = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        child = int(console.stdout.readline())
        assert _alive(child)
        console.kill()
        console.wait(10)
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the demo simulator outlived a killed console"
    finally:
        if console.poll() is None:
            console.kill()
        console.wait(10)
        console.stdin.close()
        console.stdout.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by init) counts as ended.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
