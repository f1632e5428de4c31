"""The cookbook's pytest plugin: checks that make async tests fail honestly, and a real PostgreSQL.

Registered through the ``pytest11`` entry point ``async_cookbook``, so it is loaded wherever the
package is installed. Installing it changes no test's outcome: each check is off until a project
turns it on, in its pytest configuration (``[tool.pytest.ini_options]``, ``pytest.ini``) or with
``-o`` on the command line. This repository turns both on; a notebook gets them from
:func:`async_cookbook.notebook.setup`.

- ``async_test_timeout = <seconds>``: every async test, and each async fixture's setup and teardown,
  fails by name after that much wall-clock time, showing the ``await`` that never returned; the
  process lives on (a notebook's kernel survives). ``@pytest.mark.async_timeout(seconds)`` sets or
  overrides it for one test, and works without the option. The environment variable
  ``ASYNC_TIMEOUT_SCALE`` multiplies both, for a machine much slower than usual.
- ``async_leak_check = true``: an async test that leaves tasks running once its fixtures are torn
  down fails, naming them.
- The PostgreSQL fixtures (``postgres``, ``postgres_schema``, ``postgres_dsn``, ``postgres_pool``)
  are always available: :mod:`async_cookbook.testing.postgres`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from _pytest.fixtures import resolve_fixture_function  # as pytest-asyncio does: binds class fixtures
from pytest_asyncio import is_async_test

# The PostgreSQL fixtures, registered with this plugin by being imported into it.
from async_cookbook.testing.postgres import postgres, postgres_dsn, postgres_pool, postgres_schema  # noqa: F401

__all__ = ["AsyncTestTimeout", "LeakedTasksError"]

_LEAK_CHECK = "_async_cookbook_no_leaked_tasks"
_SCALE_VARIABLE = "ASYNC_TIMEOUT_SCALE"
_TIMEOUT = pytest.StashKey[float]()


class AsyncTestTimeout(TimeoutError):
    """An async test ran past its timeout; the chained exception shows where it was waiting."""


class LeakedTasksError(AssertionError):
    """An async test left tasks running after its fixtures were torn down."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "async_test_timeout",
        "Wall-clock seconds an async test, and each async fixture's setup and teardown, may run (async_cookbook). "
        "Unset: no timeout but the async_timeout marker's",
        default="",
    )
    parser.addini(
        "async_leak_check",
        "Fail an async test that leaves tasks running after its fixtures are torn down (async_cookbook)",
        type="bool",
        default=False,
    )


def _leak_check_on(config: pytest.Config) -> bool:
    return bool(config.getini("async_leak_check"))


def pytest_sessionstart(session: pytest.Session) -> None:
    if not (_leak_check_on(session.config) or _ini_timeout(session.config)):
        return  # nothing turned on: leave the process's event loop state as it is
    # looptime 0.9 asks the policy for the current loop before every test, sync ones too. On Python < 3.12,
    # in the main thread with no loop set, that silently creates a loop nobody closes, and a later test
    # fails on "unclosed event loop". Saying "there is no current loop" makes the policy raise instead,
    # which looptime expects; pytest-asyncio's runners set and clear their own loops regardless.
    asyncio.set_event_loop(None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "async_timeout(seconds): wall-clock timeout for this async test (async_cookbook)"
    )
    _ini_timeout(config)  # a bad value in the config stops the run at once, naming the option
    _scale()  # and so does a bad factor


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Read (and check) the test's timeout before any fixture runs: its async fixtures are bounded by it too.
    if is_async_test(item) and (seconds := _timeout_for(item)) is not None:
        item.stash[_TIMEOUT] = seconds


def _ini_timeout(config: pytest.Config) -> float | None:
    raw = config.getini("async_test_timeout")
    return _seconds(raw, "async_test_timeout") if str(raw).strip() else None


def _timeout_for(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("async_timeout")
    if marker and marker.args:
        return _seconds(marker.args[0], item.nodeid) * _scale()
    seconds = _ini_timeout(item.config)
    return None if seconds is None else seconds * _scale()


def _scale() -> float:
    """ASYNC_TIMEOUT_SCALE: a factor for every bound above, for a machine much slower than the one the
    bounds were chosen on (emulation, a crowded runner). An environment variable, so that the pytest a
    notebook's kernel starts gets it too."""
    raw = os.environ.get(_SCALE_VARIABLE, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{_SCALE_VARIABLE} must be a number, got {raw!r}") from None
    if not (scale > 0 and math.isfinite(scale)):
        raise pytest.UsageError(f"{_SCALE_VARIABLE} must be positive and finite, got {raw!r}")
    return scale


def _seconds(raw: object, where: str) -> float:
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{where}: async timeout must be a number of seconds, got {raw!r}") from None
    if not seconds > 0:
        raise pytest.UsageError(f"{where}: async timeout must be positive, got {raw!r}")
    return seconds


class _RealTimeLimit:
    """Cancel the task that enters it once `seconds` of real time have passed; then raise
    AsyncTestTimeout(`message`), chained to the CancelledError that shows where it was waiting.

    A thread measures the time, not the event loop: under looptime the loop's clock is virtual,
    and a test with an hour of simulated backoff must not time out after five simulated seconds.
    """

    def __init__(self, seconds: float, message: str) -> None:
        self._seconds, self._message = seconds, message
        self._expired = threading.Event()

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def expire() -> None:
            if not task.done():
                self._expired.set()
                task.cancel(self._message)

        def fire() -> None:
            try:
                loop.call_soon_threadsafe(expire)
            except RuntimeError:  # the loop closed as the timer fired: the work has ended
                pass

        self._timer = threading.Timer(self._seconds, fire)
        self._timer.daemon = True
        self._timer.start()
        self._task = task

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        __tracebackhide__ = True
        self._timer.cancel()
        if kind is not None and issubclass(kind, asyncio.CancelledError) and self._expired.is_set():
            self._task.uncancel()
            raise AsyncTestTimeout(self._message) from error


def _bounded(test: Callable[..., Awaitable[Any]], seconds: float, name: str) -> Callable[..., Awaitable[Any]]:
    """Wrap an async test so that it fails after `seconds` of real time."""

    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # the report starts at the test's own frames
        async with _RealTimeLimit(seconds, f"{name} did not finish within its {seconds:g} s timeout"):
            return await test(*args, **kwargs)

    return bounded


def _bounded_fixture(function: Callable[..., Any], seconds: float, name: str) -> Callable[..., Any]:
    """Wrap an async fixture so that its setup, and its teardown, each fail after `seconds` of real time."""

    def limit(phase: str) -> _RealTimeLimit:
        return _RealTimeLimit(seconds, f"fixture {name!r} did not finish its {phase} within {seconds:g} s")

    if inspect.isasyncgenfunction(function):

        @functools.wraps(function)
        async def bounded_generator(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            __tracebackhide__ = True
            steps = function(*args, **kwargs)
            async with limit("setup"):
                value = await steps.__anext__()
            yield value
            async with limit("teardown"):
                async for _ in steps:
                    raise ValueError(f"fixture {name!r} yields more than once")

        return bounded_generator

    @functools.wraps(function)
    async def bounded_coroutine(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        async with limit("setup"):
            return await function(*args, **kwargs)

    return bounded_coroutine


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> Any:
    # Outside pytest-asyncio's own wrapper, which turns fixturedef.func into a synchronous function
    # running it on the test's loop: it finds an async function of the same kind, bounded.
    function = fixturedef.func
    if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
        return (yield)
    item = getattr(request, "_pyfuncitem", None)
    seconds = item.stash.get(_TIMEOUT, None) if item is not None else None
    seconds = seconds or _ini_timeout(request.config)
    if seconds is None:
        return (yield)
    bound = resolve_fixture_function(fixturedef, request)  # a fixture defined in a test class gets its instance
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fixturedef, "func", _bounded_fixture(bound, seconds, fixturedef.argname))
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    __tracebackhide__ = True
    if not (is_async_test(item) and inspect.iscoroutinefunction(item.obj) and _TIMEOUT in item.stash):
        return (yield)
    original = item.obj
    item.obj = _bounded(original, item.stash[_TIMEOUT], item.name)
    try:
        return (yield)
    finally:
        item.obj = original


def _runs_on_function_loop(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("asyncio")
    scope = marker and (marker.kwargs.get("loop_scope") or marker.kwargs.get("scope"))
    return (scope or item.config.getini("asyncio_default_test_loop_scope") or "function") == "function"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _leak_check_on(config):
        return
    # First in the list: set up before the test's other fixtures, so torn down after them.
    for item in items:
        if is_async_test(item) and _runs_on_function_loop(item) and _LEAK_CHECK not in item.fixturenames:
            item.fixturenames.insert(0, _LEAK_CHECK)


@pytest_asyncio.fixture(loop_scope="function")
async def _async_cookbook_no_leaked_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail the test if tasks it started are still running once its fixtures are torn down."""
    __tracebackhide__ = True
    before = asyncio.all_tasks()
    yield
    me = asyncio.current_task()
    running = asyncio.all_tasks() - before - {me}
    if running:
        await asyncio.sleep(0)  # one turn of the loop: lets tasks that were just cancelled finish
        running = {task for task in running if not task.done()}
    if not running:
        return
    names = "\n  ".join(sorted(repr(task) for task in running))
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    raise LeakedTasksError(f"{request.node.name} left {len(running)} task(s) running:\n  {names}")
