"""The shared test plugin (async_cookbook.testing), tested through a real pytest run.

One subprocess runs a sample module whose tests misbehave on purpose (a hang, a leaked task,
a forgotten await, a bad timeout) next to well-behaved ones; each test below checks one outcome.
One run, because a pytest start-up costs seconds here. It runs in a subprocess, bounded by a
timeout of its own, so that a broken timeout fails this suite instead of hanging it.
"""

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from async_cookbook.testing.processes import run, spawn

SAMPLE = """
import asyncio
import pytest


async def worker():
    await asyncio.Event().wait()


@pytest.mark.async_timeout(1)
async def test_waits_forever():
    await asyncio.Event().wait()


async def test_runs_after_the_hang():
    await asyncio.sleep(0)


async def test_leaks_a_task():
    asyncio.get_running_loop().create_task(worker())


async def test_cancels_its_task():
    task = asyncio.create_task(worker())
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def fetch():
    return 1


async def test_forgets_an_await():
    fetch()


@pytest.mark.async_timeout(-1)
async def test_has_a_negative_timeout():
    pass


def test_sync_is_left_alone():
    assert asyncio.iscoroutinefunction(worker)


@pytest.fixture
async def never_ready():
    await asyncio.Event().wait()
    yield


@pytest.mark.async_timeout(1)
async def test_with_a_fixture_that_never_sets_up(never_ready):
    pass


@pytest.fixture
async def never_done():
    yield "value"
    await asyncio.Event().wait()


@pytest.mark.async_timeout(1)
async def test_with_a_fixture_that_never_tears_down(never_done):
    assert "value" == never_done


@pytest.fixture
async def never_returns():
    await asyncio.Event().wait()


@pytest.mark.async_timeout(1)
async def test_with_a_coroutine_fixture_that_never_returns(never_returns):
    pass


class TestInAClass:
    @pytest.fixture
    async def offset(self):
        yield self.base + 1

    base = 41

    async def test_class_fixture_gets_its_instance(self, offset):
        assert 42 == offset
"""

BLOCKS = """
import threading
import pytest


@pytest.mark.timeout(0.5)
def test_blocks_without_awaiting():
    threading.Event().wait()


def test_never_reached():
    pass
"""

SLOW_BY_DEFAULT = """
import asyncio


async def test_waits_past_the_ini_timeout():
    await asyncio.Event().wait()
"""

SYNC_THEN_ASYNC = """
def test_sync_first():
    pass


async def test_async_after_a_sync_test():
    pass
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
async_test_timeout = 0.3
async_leak_check = true
filterwarnings = error
timeout_method = thread
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, isolated_pytest: list[str]) -> str:
    """The output of one pytest run over the sample modules, with the plugin loaded by entry point."""
    folder: Path = tmp_path_factory.mktemp("plugin")
    (folder / "pytest.ini").write_text(INI)
    (folder / "test_sample.py").write_text(textwrap.dedent(SAMPLE))
    (folder / "test_ini_timeout.py").write_text(textwrap.dedent(SLOW_BY_DEFAULT))
    # collected first: the stray loop only appears while no async test has run yet
    (folder / "test_0_order.py").write_text(textwrap.dedent(SYNC_THEN_ASYNC))
    done = run(
        [*isolated_pytest, "-rA", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 1 == done.returncode, done.stdout + done.stderr
    return done.stdout


def outcome(report: str, test: str) -> set[str]:
    """The short-summary words (PASSED, FAILED, ERROR) pytest printed for `test`: a test that
    passes and then errors at teardown gets two."""
    words = {
        word
        for word, _, rest in (line.partition(" ") for line in report.splitlines())
        if word in {"PASSED", "FAILED", "ERROR"} and rest.split(" ")[0].endswith(f"::{test}")
    }
    if not words:
        raise LookupError(f"{test} is not in the report:\n{report}")
    return words


def test_hanging_test_fails_by_name_within_its_timeout(report: str) -> None:
    """A test awaiting an event nobody sets fails with its own name and its marker's timeout."""
    assert {"FAILED"} == outcome(report, "test_waits_forever")
    assert "AsyncTestTimeout: test_waits_forever did not finish within its 1 s timeout" in report


def test_timeout_shows_where_the_test_was_waiting(report: str) -> None:
    """The chained CancelledError points at the await that never returned."""
    assert ">       await asyncio.Event().wait()" in report


def test_run_goes_on_after_a_timeout(report: str) -> None:
    """The process survives the timeout (no os._exit): the next test still runs and passes."""
    assert {"PASSED"} == outcome(report, "test_runs_after_the_hang")


def test_ini_timeout_applies_without_a_marker(report: str) -> None:
    """async_test_timeout in the config bounds a test that carries no marker."""
    assert {"FAILED"} == outcome(report, "test_waits_past_the_ini_timeout")
    assert "test_waits_past_the_ini_timeout did not finish within its 0.3 s timeout" in report


def test_leaked_task_fails_the_test_that_started_it(report: str) -> None:
    """A task still running after teardown is an error of the test that leaked it, named."""
    assert {"PASSED", "ERROR"} == outcome(report, "test_leaks_a_task")
    assert "LeakedTasksError: test_leaks_a_task left 1 task(s) running:" in report
    assert "coro=<worker() running at" in report


def test_cancelled_and_awaited_task_is_not_a_leak(report: str) -> None:
    """A test that cleans up its own task passes."""
    assert {"PASSED"} == outcome(report, "test_cancels_its_task")


def test_never_awaited_coroutine_fails_its_test(report: str) -> None:
    """A forgotten await is a RuntimeWarning, and warnings are errors."""
    assert {"FAILED"} == outcome(report, "test_forgets_an_await")
    assert "coroutine 'fetch' was never awaited" in report


def test_bad_timeout_is_refused_by_name(report: str) -> None:
    """A timeout that is not a positive number stops the test at setup with a message naming it."""
    assert {"ERROR"} == outcome(report, "test_has_a_negative_timeout")
    assert "test_sample.py::test_has_a_negative_timeout: async timeout must be positive, got -1" in report


def test_sync_tests_are_left_alone(report: str) -> None:
    """The plugin wraps only async tests."""
    assert {"PASSED"} == outcome(report, "test_sync_is_left_alone")


def test_a_sync_test_first_leaves_no_stray_event_loop(report: str) -> None:
    """looptime would make an event loop for a sync test and leave it unclosed; the next test must not pay."""
    assert {"PASSED"} == outcome(report, "test_sync_first")
    assert {"PASSED"} == outcome(report, "test_async_after_a_sync_test")


def test_fixture_setup_that_hangs_fails_by_name(report: str) -> None:
    """An async fixture whose setup never returns errors the test, naming the fixture, within the test's timeout."""
    assert {"ERROR"} == outcome(report, "test_with_a_fixture_that_never_sets_up")
    assert "AsyncTestTimeout: fixture 'never_ready' did not finish its setup within 1 s" in report
    assert {"ERROR"} == outcome(report, "test_with_a_coroutine_fixture_that_never_returns")
    assert "AsyncTestTimeout: fixture 'never_returns' did not finish its setup within 1 s" in report


def test_fixture_teardown_that_hangs_fails_by_name(report: str) -> None:
    """A teardown that never ends errors the test after it passed, pointing at the await that hung."""
    assert {"PASSED", "ERROR"} == outcome(report, "test_with_a_fixture_that_never_tears_down")
    assert "AsyncTestTimeout: fixture 'never_done' did not finish its teardown within 1 s" in report
    assert ">       await asyncio.Event().wait()" in report


def test_async_fixture_in_a_class_is_bound_to_its_instance(report: str) -> None:
    assert {"PASSED"} == outcome(report, "test_class_fixture_gets_its_instance")


def test_blocking_sync_test_is_ended_by_the_backstop(tmp_path: Path, isolated_pytest: list[str]) -> None:
    """What no event loop can interrupt, pytest-timeout ends: every thread's stack, then the process exits."""
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_blocks.py").write_text(textwrap.dedent(BLOCKS))
    done = run([*isolated_pytest, "-q", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    said = done.stdout + done.stderr
    assert 1 == done.returncode, said
    assert "+ Timeout +" in said
    assert "Stack of MainThread" in said
    assert 'test_blocks.py", line 8, in test_blocks_without_awaiting' in said
    assert "test_never_reached" not in said


# A project that never asked for the plugin: it is installed (the entry point loads it), nothing is configured.
SCRATCH = """
import asyncio


async def finish_later():
    await asyncio.sleep(1)


async def test_waits_three_seconds():
    await asyncio.sleep(3)


async def test_starts_a_short_background_task():
    asyncio.get_running_loop().create_task(finish_later())
"""
SCRATCH_INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
SCRATCH_RUNS = {
    "without the plugin": ["-p", "no:async_cookbook"],
    "installed, nothing configured": [],
    # A bound of 1 s: the test that waits 3 s fails, and the other test's setup and teardown (a few ms) keep it even
    # on a crowded machine (0.2 s was crossed once, with two busy loops beside the run).
    "turned on with -o": ["-o", "async_test_timeout=1", "-o", "async_leak_check=true"],
}


def side_by_side(commands: dict[str, list[str]], cwd: Path, env=None) -> dict[str, tuple[str, int]]:
    """Each command run at once (env(name) gives its environment); for each, what it printed and its exit
    code. Every run is bounded, and none outlives this function."""
    runs = {
        name: spawn(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    env=env(name) if env else None)
        for name, command in commands.items()
    }  # fmt: skip
    try:
        return {name: (run.communicate(timeout=60)[0], run.returncode) for name, run in runs.items()}
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait(timeout=10)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory, isolated_pytest: list[str]) -> dict[str, str]:
    """The scratch project's suite run three ways, side by side; what each printed."""
    folder = tmp_path_factory.mktemp("scratch")
    (folder / "pytest.ini").write_text(SCRATCH_INI)
    (folder / "test_scratch.py").write_text(textwrap.dedent(SCRATCH))
    runs = {name: [*isolated_pytest, "-rA", *options, str(folder)] for name, options in SCRATCH_RUNS.items()}
    return {name: output for name, (output, _) in side_by_side(runs, folder).items()}


def test_installed_but_not_configured_changes_no_outcome(scratch: dict[str, str]) -> None:
    for name in ("without the plugin", "installed, nothing configured"):
        assert {"PASSED"} == outcome(scratch[name], "test_waits_three_seconds"), name
        assert {"PASSED"} == outcome(scratch[name], "test_starts_a_short_background_task"), name
    assert "AsyncTestTimeout" not in scratch["installed, nothing configured"]
    assert "LeakedTasksError" not in scratch["installed, nothing configured"]


def test_the_checks_apply_once_turned_on(scratch: dict[str, str]) -> None:
    """The same suite, with both options given on the command line: the checks work, so the test above can fail."""
    report = scratch["turned on with -o"]
    assert {"FAILED"} == outcome(report, "test_waits_three_seconds")
    assert "test_waits_three_seconds did not finish within its 1 s timeout" in report
    assert {"PASSED", "ERROR"} == outcome(report, "test_starts_a_short_background_task")
    assert "LeakedTasksError: test_starts_a_short_background_task left 1 task(s) running" in report


WAITS_FOREVER = """
import asyncio
import pytest


@pytest.mark.async_timeout(0.1)
async def test_marked():
    await asyncio.Event().wait()


async def test_by_the_ini():
    await asyncio.Event().wait()
"""
SCALES = ["3", "-1", "fast"]  # values of ASYNC_TIMEOUT_SCALE


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory, isolated_pytest: list[str]) -> dict[str, str]:
    """A suite of two hanging tests run once per ASYNC_TIMEOUT_SCALE value, side by side; what each printed."""
    folder = tmp_path_factory.mktemp("scaled")
    (folder / "pytest.ini").write_text(INI)
    (folder / "test_hangs.py").write_text(textwrap.dedent(WAITS_FOREVER))
    runs = {scale: [*isolated_pytest, "-rA", str(folder)] for scale in SCALES}
    done = side_by_side(runs, folder, env=lambda scale: {**os.environ, "ASYNC_TIMEOUT_SCALE": scale})
    return {scale: output for scale, (output, _) in done.items()} | {
        f"{scale} exit": str(code) for scale, (_, code) in done.items()
    }


def test_a_scale_multiplies_every_bound(scaled: dict[str, str]) -> None:
    """ASYNC_TIMEOUT_SCALE=3: the marker's 0.1 s becomes 0.3 s, the ini's 0.3 s becomes 0.9 s."""
    assert "1" == scaled["3 exit"], scaled["3"]
    assert "test_marked did not finish within its 0.3 s timeout" in scaled["3"]
    assert "test_by_the_ini did not finish within its 0.9 s timeout" in scaled["3"]


@pytest.mark.parametrize(
    ("scale", "message"),
    [("-1", "ASYNC_TIMEOUT_SCALE must be positive and finite, got '-1'"),
     ("fast", "ASYNC_TIMEOUT_SCALE must be a number, got 'fast'")],
)  # fmt: skip
def test_a_bad_scale_stops_the_run_by_name(scaled: dict[str, str], scale: str, message: str) -> None:
    assert str(pytest.ExitCode.USAGE_ERROR.value) == scaled[f"{scale} exit"], scaled[scale]
    assert message in scaled[scale]
