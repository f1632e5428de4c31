"""Helpers for the tests that start processes: every wait on a child is bounded and fails by name."""

import queue
import subprocess
import threading
from collections.abc import Callable


class Output:
    """A child's text output, read line by line in a thread, so that every wait on it is bounded.

    The thread owns the stream and closes it at its end. Never close it yourself: a close waits for a
    read in progress, and a read waits for every process holding the pipe, orphans included."""

    def __init__(self, process: subprocess.Popen, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:
        with stream:
            for line in stream:
                self._queue.put(line)
        self._queue.put(None)

    def _next(self, timeout: float, waiting_for: str) -> str | None:
        """The next line, or None once the output has ended; AssertionError, with all output, after
        `timeout` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name}: {waiting_for} within {timeout} s:\n{self.text()}") from None

    def wait_for(self, wanted: Callable[[str], bool], timeout: float) -> str:
        """The first new line for which `wanted` is true; AssertionError, with all output, if the
        output ends first or no such line comes within `timeout` seconds."""
        while (line := self._next(timeout, "no such line")) is not None:
            self.lines.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"{self.name}: output ended before the line came:\n{self.text()}")

    def rest(self, timeout: float) -> str:
        """Everything until the output ends, which must happen within `timeout` seconds."""
        while (line := self._next(timeout, "output still open")) is not None:
            self.lines.append(line)
        return self.text()

    def text(self) -> str:
        return "".join(self.lines)
