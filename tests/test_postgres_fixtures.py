"""The PostgreSQL fixtures: a fresh database per test, and no server left behind, however pytest ends."""

import contextlib
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import psutil
import pytest

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
        ending: subprocess.Popen(
            [*isolated_pytest, "-s", "-q", str(folder)],
            cwd=folder,
            env={**os.environ, "ENDING": ending},
            stdout=subprocess.PIPE,
            text=True,
        )
        for ending in ENDINGS
    }
    found = {}
    try:
        for ending, run in runs.items():
            said = []
            for line in run.stdout:  # the line appears once the server is up: no sleeping, no polling
                said.append(line)
                if line.startswith("POSTMASTER "):
                    _, pid, pgdata, watchdog = line.split()
                    break
            else:
                raise AssertionError(f"{ending}: the sample never reported its server:\n{''.join(said)}")
            if ending.startswith("SIG"):
                run.send_signal(getattr(signal, ending))
            run.stdout.read()
            found[ending] = (int(pid), Path(pgdata), int(watchdog), run.wait(timeout=60))
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
            run.stdout.close()
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
