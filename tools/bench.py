"""`make bench`: how long each recipe's suite takes, in wall time and in event-loop time.

Speed targets are measured here, not asserted in tests (shared machines are noisy). For tests that
run in virtual time (looptime), the loop's clock shows how much waiting the suite simulated.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

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
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
