"""The repository's front door: `make lab` serves JupyterLab, and the README lists what exists."""

import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def lab() -> Iterator[tuple[str, str, list[str]]]:
    """`make lab` on a free loopback port with a known token, once it listens: (base URL, token, its output)."""
    port, token = free_port(), secrets.token_hex(16)
    # port_retries=0: if another process took the port meanwhile, fail loudly instead of moving to the next one
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    seen = []
    try:
        while True:  # JupyterLab prints its URL once it listens: wait for that line, not for a guess
            line = lines.get(timeout=120)
            assert line is not None, "make lab exited early:\n" + "".join(seen)
            seen.append(line)
            if url in line:
                break
        assert process.poll() is None, "JupyterLab exited:\n" + "".join(seen)
        yield url, token, seen
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        process.stdout.close()


def get(url: str, token: str, output: list[str]) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert 200 == response.status
            return json.load(response)
    except OSError as exc:
        raise AssertionError(f"GET {url} failed ({exc}); JupyterLab said:\n{''.join(output)}") from exc


def test_make_lab_serves_jupyterlab_on_the_notebooks(lab: tuple[str, str, list[str]]) -> None:
    """The README's first command starts a working JupyterLab whose file browser opens on notebooks/."""
    url, token, output = lab
    assert "started" in get(url + "api/status", token, output)
    names = {item["name"] for item in get(url + "api/contents", token, output)["content"]}
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
