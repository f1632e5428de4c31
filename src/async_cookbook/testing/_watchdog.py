"""Stop a PostgreSQL server once the process that started it is gone, however it went.

Started by :class:`async_cookbook.testing.postgres.LocalPostgres` as
``python -m async_cookbook.testing._watchdog PGDATA POSTMASTER_PID`` with its standard input a
pipe that only the owner holds open. Reading that pipe blocks until the owner closes it or dies
(even by SIGKILL): then the postmaster is asked for a fast shutdown, killed if it does not stop,
and the data directory is removed.
"""

from __future__ import annotations

import shutil
import signal
import sys

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


def main() -> int:
    pgdata, pid = sys.argv[1], int(sys.argv[2])
    sys.stdin.buffer.read()  # returns at end of file: the owner closed the pipe or died
    stop_postmaster(pid)
    shutil.rmtree(pgdata, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
