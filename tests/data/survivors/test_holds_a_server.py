"""Run by tests/test_nothing_survives.py through `make pytest`, which is then killed: a test that holds a
PostgreSQL server in its xdist worker, and a process it started with a server of its own."""

import asyncio
import os
import subprocess
import sys

import pytest

from async_cookbook.testing.processes import spawn

NESTED = """
import os, threading
from async_cookbook.testing.postgres import local_postgres
server = local_postgres()
with open(os.environ["READY_FIFO"], "w") as fifo:
    print("nested", os.getpid(), server.pid, server.pgdata, file=fifo)
threading.Event().wait()
"""


def report(*words: object) -> None:
    with open(os.environ["READY_FIFO"], "w") as fifo:
        print(*words, file=fifo)


@pytest.mark.async_timeout(100)
async def test_holds_a_server_and_a_child(postgres, postgres_pool):
    child = spawn([sys.executable, "-c", NESTED], stdin=subprocess.DEVNULL)
    await asyncio.to_thread(report, "worker", os.getpid(), postgres.pid, postgres.pgdata)
    try:
        await asyncio.Event().wait()  # until the run is killed
    finally:
        child.kill()
        child.wait(timeout=10)
