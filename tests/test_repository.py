"""The repository's front door: `make lab` serves JupyterLab, and the README lists what exists."""

import contextlib
import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from async_cookbook.testing.processes import spawn

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Lab:
    """A running `make lab`: where it listens, its token, and what it has printed."""

    url: str
    token: str
    lines: queue.Queue[str | None]
    seen: list[str] = field(default_factory=list)

    def said(self) -> str:
        """Everything the server printed so far (waiting up to two seconds for more)."""
        with contextlib.suppress(queue.Empty):
            while (line := self.lines.get(timeout=2)) is not None:
                self.seen.append(line)
        return "".join(self.seen)

    def accepts_connections(self, port: int, within: float) -> bool:
        """Probe the port until it accepts. jupyter_server prints its URL first and binds the port in a
        callback once its loop runs, so the URL line alone does not mean it listens yet. Between probes
        this waits on the server's output, not on a sleep."""
        give_up = time.monotonic() + within
        while time.monotonic() < give_up:
            with contextlib.suppress(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            with contextlib.suppress(queue.Empty):
                if (line := self.lines.get(timeout=0.1)) is not None:
                    self.seen.append(line)
        return False

    def get(self, route: str) -> dict:
        """GET an API route as JSON; on failure, say what the server printed."""
        request = urllib.request.Request(self.url + route, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert 200 == response.status
                return json.load(response)
        except OSError as exc:
            raise AssertionError(f"GET {route} failed ({exc}); JupyterLab said:\n{self.said()}") from exc


@pytest.fixture
def lab() -> Iterator[Lab]:
    """`make lab` on a free loopback port with a known token, once it listens."""
    port, token = free_port(), secrets.token_hex(16)
    # port_retries=0: if another process took the port meanwhile, fail loudly instead of moving to the next one
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    process = spawn(  # make passes on the SIGTERM it gets if this process dies: JupyterLab goes too
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lab = Lab(f"http://127.0.0.1:{port}/", token, queue.Queue())

    def pump() -> None:
        with process.stdout:  # closed here, by its reader: a close from elsewhere would wait for this read
            for line in process.stdout:
                lab.lines.put(line)
        lab.lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:  # JupyterLab prints its URL once it listens: wait for that line, not for a guess
            line = lab.lines.get(timeout=120)
            assert line is not None, "make lab exited early:\n" + "".join(lab.seen)
            lab.seen.append(line)
            if lab.url in line:
                break
        assert lab.accepts_connections(port, within=60), "JupyterLab never listened:\n" + lab.said()
        yield lab
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_make_lab_serves_jupyterlab_on_the_notebooks(lab: Lab) -> None:
    """The README's first command starts a working JupyterLab whose file browser opens on notebooks/."""
    assert "started" in lab.get("api/status")
    names = {item["name"] for item in lab.get("api/contents")["content"]}
    assert {path.name for path in (ROOT / "notebooks").glob("*.ipynb")} <= names


def test_readme_lists_exactly_the_notebooks_that_exist() -> None:
    """The README's table of notebooks names every notebook in notebooks/ and nothing else."""
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| \[`?(\d\d_\w+\.ipynb)`?\]", readme, flags=re.M))
    assert {path.name for path in (ROOT / "notebooks").glob("*.ipynb")} == listed


def test_readme_quick_start_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert ["make lab", "make test"] == re.findall(r"^make \w+", quick_start, flags=re.M)


def test_ci_runs_what_the_readme_says() -> None:
    assert "make test" == (ROOT / ".ci/run").read_text().strip().splitlines()[-1]
