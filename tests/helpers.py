"""Helpers for the tests that start processes (every wait on a child is bounded and fails by name), drive
Chromium, or serve and check the website."""

import contextlib
import functools
import http.server
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from async_cookbook.testing.processes import spawn

CHROMIUM = Path(os.environ.get("COOKBOOK_CHROMIUM", "/usr/bin/chromium"))


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

    def more(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for one more line (a pause that ends early if the child speaks)."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            return
        if line is not None:
            self.lines.append(line)
        else:
            self._queue.put(None)  # keep the end visible to the next reader


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Lab:
    """A running `make lab`: where it listens, its token, and what it has printed."""

    url: str
    token: str
    output: Output

    def get(self, route: str) -> dict:
        """GET an API route as JSON; on failure, say what the server printed."""
        request = urllib.request.Request(self.url + route, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert 200 == response.status
                return json.load(response)
        except OSError as exc:
            raise AssertionError(f"GET {route} failed ({exc}); JupyterLab said:\n{self.output.text()}") from exc


@contextlib.contextmanager
def running_lab(root: Path, *make_options: str, install_within: float = 600) -> Iterator[Lab]:
    """`make lab` in `root` on a free loopback port with a known token, once it listens; stopped after.
    The first `make lab` of a clone installs everything, hence the long `install_within`."""
    port, token = free_port(), secrets.token_hex(16)
    # port_retries=0: if another process took the port meanwhile, fail loudly instead of moving to the next one
    # expose_app_in_browser: window.jupyterapp, so that a test can read a notebook's cells, hidden ones too
    args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
        " --LabApp.expose_app_in_browser=True"
    )
    process = spawn(  # make passes on the SIGTERM it gets if this process dies: JupyterLab goes too
        ["make", "--no-print-directory", *make_options, "lab", f"LAB_ARGS={args}"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lab = Lab(f"http://127.0.0.1:{port}/", token, Output(process, "make lab"))
    try:
        # JupyterLab prints its URL first and binds the port in a callback once its loop runs, so the URL
        # line alone does not mean it listens yet: then probe, pausing on its output rather than a sleep.
        lab.output.wait_for(lambda line: lab.url in line, timeout=install_within)
        give_up = time.monotonic() + 60
        while True:
            with contextlib.suppress(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < give_up, "JupyterLab never listened:\n" + lab.output.text()
            lab.output.more(0.1)
        yield lab
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def chromium() -> Path:
    """Debian's Chromium (or COOKBOOK_CHROMIUM). Without one the browser tests skip, saying how to get it,
    except in CI (CI=true), where a skipped browser test would hide what it checks: there they fail."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian, Ubuntu), or set COOKBOOK_CHROMIUM"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser tests: {message}")
    pytest.skip(message)


@contextlib.contextmanager
def headless_chromium() -> Iterator:
    """A Playwright browser on that Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as playwright:
        # Chromium's sandbox refuses to start as root (containers, CI): it is only turned off then.
        sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=str(path), headless=True, args=sandbox)
        try:
            yield browser
        finally:
            browser.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """`folder` over HTTP on 127.0.0.1, as a static host would serve it; its URL, ending in /."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class Anchors(HTMLParser):
    """The ids a page defines and the links it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])


@functools.cache  # a page is read once, however many links point into it
def parsed(path: Path) -> Anchors:
    anchors = Anchors()
    anchors.feed(path.read_text(encoding="utf-8"))
    return anchors


def broken_links(site: Path, page: Path) -> list[str]:
    """Links on `page` to a file of the site that does not exist, or to an anchor that page lacks."""
    broken = []
    for link in parsed(page).links:
        target = urllib.parse.urlsplit(link)
        if target.scheme or target.netloc:
            continue  # another site
        path = (page.parent / urllib.parse.unquote(target.path)).resolve() if target.path else page
        if not path.is_relative_to(site.resolve()) or not path.is_file():
            broken.append(f"{link}: no such page")
        elif target.fragment and path.suffix == ".html" and target.fragment not in parsed(path).ids:
            broken.append(f"{link}: no such anchor")
    return broken
