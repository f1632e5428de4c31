"""Processes a test run starts never outlive it, however the run ends (Linux).

Two tools, used by the cookbook's own pytest configuration and reusable by any test suite:

- :func:`spawn` and :func:`run`: :mod:`subprocess` for tests. The child gets SIGTERM when the
  process that started it dies, even by SIGKILL, and it gets SIGINT back: a shell starts a
  background job (``cmd &``) with SIGINT ignored, every child inherits that, and a test that stops
  its child with SIGINT then waits forever.
- :func:`die_with_parent`: this process terminates itself once its parent has exited. A pytest
  controller armed this way ends when ``make`` is killed, and each pytest-xdist worker when the
  controller is. It blocks on a pidfd of the parent: no polling.

Whatever a dying process started in turn is handled the same way one level down (a child started by
:func:`spawn`, a Jupyter kernel watching its parent, the PostgreSQL watchdog reading a pipe), so a
whole tree goes, however its top went.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["die_with_parent", "run", "spawn"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_GRACE = 10.0  # seconds a process that ignores SIGTERM has before SIGKILL
_armed = False
_lock = threading.Lock()


def _prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, looked up before fork (no lookups are safe in a forked child)."""
    if not os.uname().sysname == "Linux":
        return None
    return ctypes.CDLL(None, use_errno=True).prctl


def _child_setup(parent: int) -> Callable[[], None]:
    prctl = _prctl()

    def setup() -> None:  # runs in the child between fork and exec
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before the line above: nobody will signal us
                os.kill(os.getpid(), signal.SIGTERM)

    return setup


def _from_main_thread(name: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"{name}() must be called from the main thread: the child's death signal follows its thread")


def spawn(args: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen:
    """:class:`subprocess.Popen` for tests: the child is sent SIGTERM if this process dies first,
    and starts with SIGINT at its default, whatever this process inherited.

    Call it from the main thread: Linux ties the death signal to the thread that started the
    child, and a helper thread that ends would take the child with it. Raises RuntimeError otherwise.
    """
    _from_main_thread("spawn")
    if "preexec_fn" in popen_kwargs:
        raise TypeError("spawn() sets preexec_fn itself")
    return subprocess.Popen(args, preexec_fn=_child_setup(os.getpid()), **popen_kwargs)


def run(args: Sequence[str], *, timeout: float, **run_kwargs: Any) -> subprocess.CompletedProcess:
    """:func:`subprocess.run` with :func:`spawn`'s guarantees and a timeout that must be given:
    on expiry the child is killed and :class:`subprocess.TimeoutExpired` names the command."""
    _from_main_thread("run")
    return subprocess.run(args, preexec_fn=_child_setup(os.getpid()), timeout=timeout, **run_kwargs)


def _end_this_process(pidfd: int) -> None:
    select.select([pidfd], [], [])  # readable once the parent has exited
    os.kill(os.getpid(), signal.SIGTERM)
    threading.Event().wait(_GRACE)  # a SIGTERM handler had its chance to clean up
    os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent() -> bool:
    """Arm this process to terminate (SIGTERM, then SIGKILL after 10 s) once its parent exits.

    Returns False where that cannot be watched: no pidfd (not Linux, or Linux before 5.3), or a
    parent that is the init process. Calling it again does nothing more.
    """
    global _armed
    with _lock:
        if _armed:
            return True
        parent = os.getppid()
        if parent <= 1 or not hasattr(os, "pidfd_open"):
            return False
        try:
            pidfd = os.pidfd_open(parent)
        except OSError:
            return False
        threading.Thread(target=_end_this_process, args=(pidfd,), name="die-with-parent", daemon=True).start()
        _armed = True
        if os.getppid() != parent:  # the parent left before the pidfd was opened: the thread may wait forever
            os.kill(os.getpid(), signal.SIGTERM)
        return True
