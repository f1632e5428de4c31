"""The website (`make site`), built afresh and opened page by page in headless Chromium: each page
renders its headings and code, the recipes show their test results, the retry plot is an image that
loaded, no internal link points nowhere, and the browser reports no error. Like tests/test_browser.py,
skipped without Chromium except in CI."""

import functools
import http.server
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import chromium, headless_chromium

from async_cookbook.testing.processes import run

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
PAGES = ["index", *(f"notebooks/{name}" for name in NOTEBOOKS)]

pytestmark = pytest.mark.timeout(900)  # the build executes every notebook


def build(into: Path, *notebooks: Path) -> subprocess.CompletedProcess[str]:
    options = [argument for notebook in notebooks for argument in ("--notebook", str(notebook))]
    return run(
        [sys.executable, str(ROOT / "tools/site.py"), "--build", str(into), *options],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chromium()  # nothing to check it with: skip (or, in CI, fail) before spending a build
    into = tmp_path_factory.mktemp("site")
    done = build(into)
    assert 0 == done.returncode, done.stdout + done.stderr
    return into / "html"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site over HTTP on 127.0.0.1, as a static host would serve it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as browser:
        yield browser


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


@pytest.mark.parametrize("name", PAGES)
def test_a_page_renders_with_working_links_and_no_browser_errors(site: Path, served: str, browser, name: str) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"{request.url}: {request.failure}"))
    try:
        response = page.goto(f"{served}{name}.html", wait_until="networkidle")
        assert 200 == response.status
        assert page.locator("h1:visible").count() == 1  # the page's title, rendered
        if name != "index":
            assert page.locator("div.cell pre").count() > 0  # the code, rendered
            binder = page.locator(f"a[href*='mybinder.org'][href*='{Path(name).name}.ipynb']")
            assert binder.count() > 0, "no link opening this notebook on Binder"
            assert page.locator("button.copybtn").count() > 0  # code that can be copied
        if name.startswith("notebooks/0") and not name.endswith("00_async_tests_in_notebooks"):
            assert " passed in " in "\n".join(page.locator("div.cell_output").all_inner_texts())  # test results
        images = page.locator("div.cell_output img")
        loaded = images.evaluate_all("images => images.map(image => image.complete && image.naturalWidth > 0)")
        assert all(loaded), f"{loaded.count(False)} image(s) did not load"
        if name.endswith("06_retry"):
            assert loaded, "the retry recipe's plot should be on its page"
    finally:
        page.close()
    assert [] == errors
    assert [] == broken_links(site, site / f"{name}.html")


def test_a_broken_internal_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html">b</a><a href="a.html#nowhere">x</a>')
    (tmp_path / "c.html").write_text('<a href="a.html#top">fine</a><a href="https://example.com/">away</a>')
    assert ["b.html: no such page", "a.html#nowhere: no such anchor"] == broken_links(tmp_path, tmp_path / "a.html")
    assert [] == broken_links(tmp_path, tmp_path / "c.html")


def test_a_notebook_whose_cell_fails_fails_the_build(tmp_path: Path) -> None:
    """Also a link that points nowhere: the README's table links notebooks this build leaves out."""
    done = build(tmp_path, ROOT / "tests/data/failing_inline_test.ipynb")
    log = re.sub(r"\x1b\[[0-9;]*m", "", done.stderr)  # the traceback comes in colour
    assert 0 != done.returncode
    assert "InlineTestsFailed: 1 inline test failure(s)" in log  # the cell's error, in the log
    assert "E   assert 42 == 41" in log
    assert "cross-reference target not found: 'notebooks/06_retry.ipynb'" in log
    assert "site: the build failed" in log


def test_the_publishing_workflow_only_calls_make_site() -> None:
    workflow = (ROOT / ".github/workflows/site.yml").read_text()
    runs = [line.strip().removeprefix("- ") for line in workflow.splitlines() if "run:" in line]
    assert ["run: make site"] == runs
    assert "path: _build/html" in workflow
