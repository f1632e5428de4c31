"""One call that every notebook's Setup cell makes: ``from async_cookbook.notebook import setup; setup()``.

It configures ipytest the way the cookbook measured to be honest inside a running kernel:

- ``run_in_thread=True``: pytest-asyncio starts its own event loop with ``asyncio.Runner``, which
  refuses to run on a thread whose loop is already running, and the kernel's thread always has one.
- ``raise_on_error=True``: a failing test raises, so the cell fails, so nbval fails. Without it a
  red test prints red and the notebook still counts as green.
- the pytest inside the kernel skips plugins that only the outer run needs (nbval, nbmake, xdist,
  the cache): loading them for every cell doubled the notebooks' run time.

It also makes a failing ``%%ipytest`` cell raise :class:`InlineTestsFailed`, whose message holds
pytest's own failure text (the ``E   assert ...`` lines), so that nbval's report says why.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["INNER_PYTEST_OPTIONS", "InlineTestsFailed", "setup"]

INNER_PYTEST_OPTIONS = (
    "-q",
    "--color=no",
    "--tb=short",
    "-p", "no:nbval",
    "-p", "no:nbmake",
    "-p", "no:xdist",
    "-p", "no:cacheprovider",
    "-p", "no:randomly",  # a cell's tests run in the order they are written, as the reader sees them
    "-p", "async_cookbook.notebook",  # this module: collects failure text for InlineTestsFailed
    # the cookbook plugin's checks, which are off until a project turns them on: a notebook always does
    "-o", "async_test_timeout=5",
    "-o", "async_leak_check=true",
    # The settings the repository's pyproject.toml gives its tests, carried by the notebook itself: a
    # notebook copied out of the repository finds no pyproject.toml, and would otherwise run with
    # pytest-asyncio's strict mode ("async def functions are not natively supported").
    "-o", "asyncio_mode=auto",
    "-o", "asyncio_default_fixture_loop_scope=function",
    "-o", "asyncio_default_test_loop_scope=function",
    "-o", "xfail_strict=true",
    "--strict-markers",
    "-W", "error",  # an unclosed session, a never-awaited coroutine or a leaked transport fails the test
    # plugin modules imported before the inner pytest starts cannot have their asserts rewritten
    "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
)  # fmt: skip

_failures: list[str] = []
_lock = threading.Lock()


class InlineTestsFailed(AssertionError):
    """Tests in a ``%%ipytest`` cell failed; the message carries pytest's report of each failure."""


def pytest_sessionstart() -> None:
    with _lock:
        _failures.clear()


def _record(title: str, text: str) -> None:
    with _lock:
        _failures.append(f"{title}\n{text}".rstrip())


def pytest_runtest_logreport(report: Any) -> None:
    if report.failed:
        phase = "" if report.when == "call" else f" (at {report.when})"
        _record(f"___ {report.head_line}{phase} ___", report.longreprtext)


def _machinery() -> tuple[str, ...]:
    """The folders of the code between a test and the reader: pytest and pluggy, pytest-asyncio, asyncio's
    runner, looptime and this package's plugin. Their frames explain nothing a reader of a failing
    notebook test needs."""
    import asyncio
    import importlib.util

    folders = [Path(asyncio.__file__).parent, Path(__file__).parent / "testing"]
    for name in ("_pytest", "pluggy", "pytest_asyncio", "looptime"):
        if (spec := importlib.util.find_spec(name)) is not None and spec.origin is not None:
            folders.append(Path(spec.origin).parent)
    return tuple(f"{folder}{os.sep}" for folder in folders)


def pytest_runtest_makereport(item: Any, call: Any) -> None:
    """Leave the event loop's and the plugins' frames out of a failure's traceback: what remains is the
    test's own code and the line that failed (the innermost frame is kept whatever it is)."""
    if call.excinfo is None:
        return
    entries = list(call.excinfo.traceback)
    own = [entry for entry in entries[:-1] if not str(entry.path).startswith(_machinery())]
    call.excinfo.traceback = type(call.excinfo.traceback)(own + entries[-1:])


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _record("___ collection error ___", report.longreprtext)


def _failure_text(exit_code: int | None) -> str:
    with _lock:
        failures = list(_failures)
    if exit_code is None:
        return "pytest crashed before it could report (its traceback is printed above the error)"
    if not failures:
        return f"pytest exited with code {exit_code} and reported no failing test (see the output above)"
    return f"{len(failures)} inline test failure(s):\n\n" + "\n\n".join(failures)


def setup() -> None:
    """Configure ipytest for async tests in this kernel and make failing cells explain themselves.

    Call it once, in the notebook's Setup cell. Calling it again is harmless.
    """
    import ipytest
    from IPython import get_ipython

    ipytest.autoconfig(run_in_thread=True, raise_on_error=True, addopts=list(INNER_PYTEST_OPTIONS))
    shell = get_ipython()
    if shell is None:
        raise RuntimeError("async_cookbook.notebook.setup() runs inside IPython or Jupyter only")
    original = shell.magics_manager.magics["cell"]["ipytest"]
    if getattr(original, "_async_cookbook", False):
        return

    def ipytest_cell(line: str, cell: str) -> None:
        try:
            original(line, cell)
        except ipytest.Error as exc:
            raise InlineTestsFailed(_failure_text(exc.args[0])) from None

    ipytest_cell._async_cookbook = True  # type: ignore[attr-defined]
    ipytest_cell._ipython_magic_no_var_expand = True  # type: ignore[attr-defined]  # as ipytest's own magic
    ipytest_cell.__doc__ = original.__doc__
    shell.register_magic_function(ipytest_cell, magic_kind="cell", magic_name="ipytest")
