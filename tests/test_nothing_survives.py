"""Killing the top process of a `make pytest` run (SIGTERM, or SIGKILL that runs no clean-up) leaves no
pytest process, kernel, PostgreSQL server or /dev/shm data behind.

The run is the real command `make test` ends with, narrowed to two inputs in tests/data/survivors/ that
hold every kind of resource at once: in one xdist worker a test with the per-process PostgreSQL server
and a child process with a server of its own; in the other, a notebook whose kernel holds a server.
Each reports on a FIFO once its server is up, so the kill comes when all of them are running.
"""

import os
import select
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
from helpers import Output

from async_cookbook.testing.processes import spawn

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS = "tests/data/survivors/test_holds_a_server.py tests/data/survivors/holds_a_kernel.ipynb"
HOLDERS = {"worker", "nested", "kernel"}

pytestmark = pytest.mark.timeout(400)  # above the 240 s the sample may take to start under load


class Fifo:
    """A named pipe that the sample's processes report on, one line each; reads are bounded."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        # read-write, so that the open does not wait for a writer and EOF never comes between writers
        self._fd = os.open(path, os.O_RDWR)

    def lines(self, count: int, timeout: float, writer: subprocess.Popen) -> list[str]:
        """The first `count` lines written, while `writer` (whose processes write them) runs: its end stops
        the wait at once. Unbuffered reads: a buffered reader could hold lines that select() no longer sees
        in the pipe."""
        received = b""
        ended = os.pidfd_open(writer.pid)  # readable once the process has ended
        try:
            while received.count(b"\n") < count:
                readable, _, _ = select.select([self._fd, ended], [], [], timeout)
                assert readable, f"not {count} reports within {timeout} s: {received!r}"
                if self._fd in readable:
                    received += os.read(self._fd, 4096)
                else:
                    raise AssertionError(f"the run ended before {count} reports: {received!r}")
        finally:
            os.close(ended)
        return received.decode().splitlines()

    def close(self) -> None:
        os.close(self._fd)


class Run:
    """`make pytest` over the sample, reporting on a FIFO of its own."""

    def __init__(self, folder: Path, how: signal.Signals) -> None:
        self.how = how
        self.fifo = Fifo(folder / f"ready-{how.name}")
        self.make = spawn(
            ["make", "--no-print-directory", "pytest", f"PYTEST_PATHS={SURVIVORS}", "WORKERS=2"],  # a worker per input
            cwd=ROOT, env={**os.environ, "READY_FIFO": str(self.fifo.path)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.output = Output(self.make, f"make pytest ({how.name})")

    def kill_once_ready(self) -> tuple[dict[psutil.Process, str], list[Path]]:
        """Wait for the three reports, note every process of the run (the postmasters too) with its
        command, then send the signal to make. Returns those processes and the servers' data folders."""
        # generous: under `make test` the browser and site suites keep both cores busy meanwhile
        try:
            reports = [line.split() for line in self.fifo.lines(len(HOLDERS), timeout=240, writer=self.make)]
        except AssertionError as error:
            said = self.output.rest(timeout=30) if self.make.poll() is not None else self.output.text()
            raise AssertionError(f"{error}\nmake pytest ({self.how.name}) printed:\n{said}") from None
        assert HOLDERS == {report[0] for report in reports}
        top = psutil.Process(self.make.pid)
        processes = [top, *top.children(recursive=True), *(psutil.Process(int(report[2])) for report in reports)]
        commands = {process: " ".join(process.cmdline()[:4]) for process in processes}
        self.make.send_signal(self.how)
        self.make.wait(timeout=30)
        return commands, [Path(report[3]) for report in reports]

    def close(self) -> None:
        if self.make.poll() is None:
            self.make.kill()
            self.make.wait(timeout=10)
        self.fifo.close()


SIGNALS = [signal.SIGTERM, signal.SIGKILL]


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> dict[signal.Signals, tuple]:
    """One run killed with each signal, the two side by side: for each, the processes it had, their
    data folders, and what it printed."""
    folder = tmp_path_factory.mktemp("survivors")
    runs = [Run(folder, how) for how in SIGNALS]
    try:
        noted = {run.how: run.kill_once_ready() for run in runs}
        return {run.how: (*noted[run.how], run.output.rest(timeout=30)) for run in runs}
    finally:
        for run in runs:
            run.close()


@pytest.mark.parametrize("how", SIGNALS, ids=[how.name for how in SIGNALS])
def test_killing_the_top_process_leaves_nothing_behind(killed, how: signal.Signals) -> None:
    commands, folders, said = killed[how]
    assert any("ipykernel_launcher" in command for command in commands.values()), commands  # the run was caught
    pytests = [command for command in commands.values() if "pytest" in command or "exec(eval(" in command]
    assert len(pytests) >= 3, commands  # the controller and two xdist workers (execnet's bootstrap until renamed)
    _, alive = psutil.wait_procs(commands, timeout=20)
    assert [] == [f"{process.pid}: {commands[process]}" for process in alive], said
    assert [] == [folder for folder in folders if folder.exists()]
