"""async_cookbook.testing.processes: what a test starts ends with it, and gets SIGINT back."""

import signal
import subprocess
import sys
import threading

import psutil
import pytest
from helpers import Output

from async_cookbook.testing.processes import die_with_parent, run, spawn

SHOW_SIGINT = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"

# A middle process starts one grandchild per argument ("spawn:" or "popen:" then its code), prints their
# pids once each has said it is ready, then waits to be killed.
MIDDLE = """
import subprocess, sys, threading
from async_cookbook.testing.processes import spawn
children = []
for how, code in (argument.split(":", 1) for argument in sys.argv[1:]):
    start = spawn if how == "spawn" else subprocess.Popen
    children.append(start([sys.executable, "-c", code], stdout=subprocess.PIPE))
    assert children[-1].stdout.readline() == b"ready\\n"
print(*(child.pid for child in children), flush=True)
threading.Event().wait()
"""
WAITS = "import threading; print('ready', flush=True); threading.Event().wait()"
ARMS = (
    "import threading; from async_cookbook.testing.processes import die_with_parent; "
    "assert die_with_parent(); print('ready', flush=True); threading.Event().wait()"
)
GRANDCHILDREN = {"plain": f"popen:{WAITS}", "spawned": f"spawn:{WAITS}", "armed": f"popen:{ARMS}"}


@pytest.fixture(scope="module")
def survived() -> dict[str, bool]:
    """Start a middle process with three grandchildren, kill it with SIGKILL (no clean-up runs), and say
    which grandchildren were still running once the other two had ended (each within 10 s)."""
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, *GRANDCHILDREN.values()], stdout=subprocess.PIPE, text=True
    )
    pids = Output(middle, "the middle process").wait_for(str.strip, timeout=30).split()
    grandchildren = dict(zip(GRANDCHILDREN, map(psutil.Process, map(int, pids)), strict=True))
    middle.kill()
    middle.wait(timeout=10)
    try:
        psutil.wait_procs([grandchildren["spawned"], grandchildren["armed"]], timeout=10)
        return {name: process.is_running() for name, process in grandchildren.items()}
    finally:
        for process in grandchildren.values():
            if process.is_running():
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def sigint_ignored():
    """This process with SIGINT ignored, as a shell starts a background job."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_plain_child_inherits_an_ignored_sigint(sigint_ignored):
    """The problem: in a background job, a child started the usual way cannot be stopped with SIGINT."""
    done = subprocess.run([sys.executable, "-c", SHOW_SIGINT], capture_output=True, text=True, timeout=30)
    assert "True" == done.stdout.strip()


def test_a_spawned_child_gets_sigint_back(sigint_ignored):
    done = run([sys.executable, "-c", SHOW_SIGINT], capture_output=True, text=True, timeout=30)
    assert "False" == done.stdout.strip()


def test_a_plain_grandchild_outlives_its_killed_parent(survived):
    """The problem: an orphan started the usual way goes on (here, while its two siblings ended)."""
    assert survived["plain"]


def test_a_spawned_grandchild_ends_with_its_killed_parent(survived):
    assert not survived["spawned"]


def test_die_with_parent_ends_a_process_whose_parent_is_killed(survived):
    """A process that armed itself goes, though its parent started it without spawn()."""
    assert not survived["armed"]


def test_die_with_parent_arms_once():
    """This test process has a parent (pytest's worker or the shell): arming twice is harmless."""
    assert die_with_parent() is die_with_parent() is True
    assert 1 == sum(thread.name == "die-with-parent" for thread in threading.enumerate())


def test_run_kills_a_child_that_outlives_its_timeout():
    with pytest.raises(subprocess.TimeoutExpired, match=r"timed out after 0\.\d+ seconds"):
        run([sys.executable, "-c", WAITS], stdout=subprocess.DEVNULL, timeout=0.5)
    assert not [child for child in psutil.Process().children() if WAITS in " ".join(child.cmdline())]


def test_spawn_refuses_a_helper_thread():
    """Linux ties the death signal to the thread that forked: a thread that ends would take the child with it."""
    errors = []

    def start() -> None:
        try:
            spawn([sys.executable, "-c", "pass"])
        except RuntimeError as error:
            errors.append(str(error))

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(timeout=30)
    assert ["spawn() must be called from the main thread: the child's death signal follows its thread"] == errors
