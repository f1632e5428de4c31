"""Stop a PostgreSQL server once the process that started it is gone, however it went.

Started by :class:`async_cookbook.testing.postgres.LocalPostgres` as
``python -m async_cookbook.testing._watchdog PGDATA`` with its standard input a pipe that only the
owner holds open, before the server is created: an owner killed while initdb or the server's start
runs leaves nothing behind either. Reading that pipe blocks until the owner closes it or dies (even
by SIGKILL): then the postmaster named in PGDATA/postmaster.pid, if there is one, is asked for a fast
shutdown, killed if it does not stop, and the data directory is removed.
"""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

import psutil


def stop_postmaster(pid: int, grace: float = 10.0) -> None:
    """Fast shutdown (SIGINT: roll back, disconnect, stop) of the postmaster `pid`; SIGKILL if it lingers."""
    try:
        postmaster = psutil.Process(pid)
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(grace)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        postmaster.kill()


def postmaster_of(pgdata: Path) -> int | None:
    """The pid PostgreSQL wrote on the first line of PGDATA/postmaster.pid while it runs, if it did."""
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def main() -> int:
    pgdata = Path(sys.argv[1])
    sys.stdin.buffer.read()  # returns at end of file: the owner closed the pipe or died
    if (pid := postmaster_of(pgdata)) is not None:
        stop_postmaster(pid)
    shutil.rmtree(pgdata, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
