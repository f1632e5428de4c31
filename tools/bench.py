"""`make bench`: how long each recipe's suite takes, in wall time and in event-loop time.

Speed targets are measured here, not asserted in tests (shared machines are noisy). For tests that
run in virtual time (looptime), the loop's clock shows how much waiting the suite simulated.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from chat_bench import chat_bench  # tools/ is on sys.path when this file runs as a script

ROOT = Path(__file__).resolve().parent.parent


def _suite(nodeid: str) -> str:
    """tests/generated/test_retry.py::test_x -> test_retry"""
    return Path(nodeid.split("::")[0]).stem


class Clocks:
    """Per test module: tests run, wall seconds (setup, call and teardown), loop seconds in test calls."""

    def __init__(self) -> None:
        self.tests: dict[str, int] = defaultdict(int)
        self.wall: dict[str, float] = defaultdict(float)
        self.loop: dict[str, float] = defaultdict(float)

    @pytest.hookimpl(wrapper=True, trylast=True)  # innermost: inside looptime's own wrapper
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function):
        policy = pyfuncitem.funcargs.get("event_loop_policy")
        try:
            loop = policy.get_event_loop() if policy else None
        except RuntimeError:
            loop = None
        before = loop.time() if loop else 0.0
        try:
            return (yield)
        finally:
            if loop:
                self.loop[_suite(pyfuncitem.nodeid)] += loop.time() - before

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.wall[_suite(report.nodeid)] += report.duration
        if report.when == "call":
            self.tests[_suite(report.nodeid)] += 1


async def _contend(acquire, *, tasks: int = 100, seconds: float = 2.0) -> tuple[float, float]:
    """`tasks` tasks acquire and release as fast as they can for `seconds`: cycles a second, and the
    99th percentile of the wait for a connection, in milliseconds."""
    loop = asyncio.get_running_loop()
    stop, waits = loop.time() + seconds, []

    async def worker() -> None:
        while loop.time() < stop:
            asked = time.perf_counter()
            async with acquire():
                waits.append(time.perf_counter() - asked)
                await asyncio.sleep(0)  # hold it for one turn of the loop, as a caller doing anything would

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    waits.sort()
    return len(waits) / (time.perf_counter() - started), 1000 * waits[int(0.99 * (len(waits) - 1))]


async def pool_bench() -> list[tuple[str, float, float]]:
    """This recipe's Pool against asyncpg's, both over 10 connections to the embedded PostgreSQL."""
    import asyncpg

    from async_cookbook.pool import Pool
    from async_cookbook.testing.postgres import local_postgres

    dsn = local_postgres().dsn()
    results = []
    async with Pool(lambda: asyncpg.connect(dsn), max_size=10, close=asyncpg.Connection.close) as pool:
        results.append(("async_cookbook.pool.Pool", *await _contend(pool.acquire)))
    async with asyncpg.create_pool(dsn, min_size=10, max_size=10) as pool:
        results.append(("asyncpg.create_pool", *await _contend(pool.acquire)))

    async def no_reset(connection) -> None:  # skips the RESET ALL round trip asyncpg makes on every release
        pass

    async with asyncpg.create_pool(dsn, min_size=10, max_size=10, reset=no_reset) as pool:
        results.append(("asyncpg.create_pool, no reset", *await _contend(pool.acquire)))
    return results


def main() -> int:
    clocks = Clocks()
    started = time.perf_counter()
    args = ["-q", "-p", "no:xdist", "-p", "no:cacheprovider", str(ROOT / "tests/generated")]
    code = pytest.main(args, plugins=[clocks])
    total = time.perf_counter() - started
    print(f"\n{'suite':28} {'tests':>6} {'wall s':>8} {'loop s':>10}")
    for module in sorted(clocks.tests):
        loop = clocks.loop.get(module, 0.0)
        print(f"{module:28} {clocks.tests[module]:>6} {clocks.wall[module]:>8.2f} {loop:>10.1f}")
    print(f"(wall s: setup, call and teardown of every test; the whole run took {total:.1f} s with pytest's start)")
    results = asyncio.run(pool_bench())
    print("\npool: 100 tasks contending for 10 connections, acquire and release only (recipe 5)")
    print(f"{'pool':32} {'cycles/s':>10} {'p99 wait ms':>12}")
    for name, rate, p99 in results:
        print(f"{name:32} {rate:>10.0f} {p99:>12.2f}")
    ours, theirs, theirs_no_reset = (rate for _, rate, _ in results)
    print(f"ratio, same run: {ours / theirs:.2f} to asyncpg.create_pool, {ours / theirs_no_reset:.2f} without reset")
    asyncio.run(chat_bench())
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
