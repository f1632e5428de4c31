"""The learner's path, in a real browser: `make lab` in a copy of this working tree, every notebook opened
in a tab of the lab's window and run with Run > Run All Cells, saved, and then the checks `make test` makes. Then the
reader's path: the website built from those saved notebooks (rendered as JupyterLab left them, not
executed a third time) and opened page by page.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright for Python; Playwright's own
browser download is not needed. Without Chromium these tests are skipped with a message saying how to
install it, except in CI (CI=true), where a skipped browser test would hide the learner's path: there
they fail. A screenshot of each notebook after its run goes to browser-screenshots/ (CI keeps it).
"""

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Lab, broken_links, chromium, headless_chromium, running_lab, serving

from async_cookbook.testing.processes import run

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "browser-screenshots"
NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
BROKEN = "failing_inline_test.ipynb"  # tests/data: its inline test fails, and a cell after it never runs
# A notebook's whole run (nbval's limit is 300 s a cell); lower it to see a stuck notebook fail sooner.
RUN_ALL_WITHIN_MS = int(os.environ.get("COOKBOOK_RUN_ALL_WITHIN_MS", 240_000))
# The copy shares this tree's .venv: make must never reinstall into it from the copy, whatever the files' times say.
KEEP_THE_VENV = ["-o", ".venv/.installed-stamp", "-o", ".venv/.lab-stamp"]
# Notebooks running at once, each in its own tab and kernel: the kernels' work overlaps their waits.
TABS = 3
# How often a wait re-reads the page. Playwright's default runs the check on every animation frame, which kept
# Chromium busier than the three kernels it waits for; a quarter of a second is soon enough for a notebook.
POLL_MS = 250

# Each test waits for a whole notebook, and the fixtures start JupyterLab and run every notebook once.
pytestmark = pytest.mark.timeout(900)
PAGES = ["index", *(f"notebooks/{Path(name).stem}" for name in NOTEBOOKS)]


def git(repository: Path, *args: str) -> str:
    return run(["git", *args], cwd=repository, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as it is (committed or not) in a git repository of its own, sharing `.venv`, so
    that running and saving notebooks never touches the tree the tests run from."""
    target = tmp_path_factory.mktemp("learner") / "cookbook"
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    git(target, "init", "--quiet")
    # The filter first, as in a clone where `make` has run: notebooks this tree holds with a reader's
    # outputs are committed without them, and keep them on disk.
    clean = f"{ROOT / '.venv/bin/python'} {ROOT / 'tools/notebooks.py'} clean"
    git(target, "config", "filter.notebook-outputs.clean", clean)
    git(target, "add", "--all")
    git(target, "-c", "user.name=cookbook", "-c", "user.email=cookbook@example.com", "commit", "--quiet", "-m", "as is")
    shutil.copy(ROOT / "tests/data" / BROKEN, target / "notebooks" / BROKEN)  # not committed: a scratch file
    return target


@pytest.fixture(scope="module")
def lab(clone: Path) -> Iterator[Lab]:
    chromium()  # no JupyterLab to start when there is no browser to drive it
    with running_lab(clone, *KEEP_THE_VENV) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as browser:
        yield browser


# The notebook panel in the lab's main area whose file is `name` (a JavaScript expression).
PANEL = """(name => window.jupyterapp.shell.widgets('main').find(widget => widget.context
    && widget.context.path === name && widget.content && widget.content.model))"""


class Tab:
    """A notebook opened in the learner's JupyterLab window, as a tab next to the others, with Run > Run All
    Cells clicked; `finish()` waits for the run, saves, takes the screenshots and says what went wrong, read
    from the saved notebook. One window for every notebook, as a learner has it: JupyterLab's code loads
    once (about 4 s of Chromium's time per window), and a tab in the background is not drawn while it runs."""

    def __init__(self, window, lab: Lab, name: str) -> None:
        self.window, self.lab, self.name = window, lab, name
        # opened as the file browser opens it; it becomes the tab in front
        window.evaluate("name => { window.jupyterapp.commands.execute('docmanager:open', {path: name}); }", name)
        try:
            # its kernel has started and is idle
            self.wait_for(
                f"""name => {{
                    const panel = {PANEL}(name);
                    const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
                    return kernel && kernel.status === 'idle' && window.jupyterapp.shell.currentWidget === panel;
                }}""",
                timeout=120_000,
            )
            window.click("div.lm-MenuBar-itemLabel:text-is('Run')")
            window.click("li.lm-Menu-item:has-text('Run All Cells')")
        except BaseException:
            self.close()  # the screenshot shows where it stopped
            raise

    def wait_for(self, predicate: str, timeout: float) -> None:
        self.window.wait_for_function(predicate, arg=self.name, timeout=timeout, polling=POLL_MS)

    def to_front(self) -> None:
        if self.window.evaluate(f"name => {PANEL}(name) ? window.jupyterapp.shell.activateById({PANEL}(name).id) "
                                "|| true : false", self.name):  # fmt: skip
            self.wait_for(f"name => window.jupyterapp.shell.currentWidget === {PANEL}(name)", timeout=30_000)

    def close(self) -> None:
        """The screenshot, also when a wait timed out (it shows where the notebook stopped), then the tab goes."""
        SCREENSHOTS.mkdir(exist_ok=True)
        try:
            self.to_front()
            self.window.screenshot(path=SCREENSHOTS / f"{Path(self.name).stem}.png")
        finally:
            self.window.evaluate(f"name => {{ {PANEL}(name) && {PANEL}(name).dispose(); }}", self.name)

    def show_the_learner(self) -> None:
        """Pictures of what a learner sees after the run: the first screen, and the cell where the original's
        test passes against broken code (tagged the-lie), as screenshots/<notebook>-first-screen.png and
        -the-lie.png."""
        stem = Path(self.name).stem
        SCREENSHOTS.mkdir(exist_ok=True)
        scroll = """async ([tag, align]) => {
            const notebook = window.jupyterapp.shell.currentWidget.content;
            const cells = notebook.model.cells;
            const index = tag ? Array.from({length: cells.length}, (_, i) => cells.get(i))
                .findIndex(cell => (cell.getMetadata('tags') || []).includes(tag)) : 0;
            if (index < 0) return false;
            await notebook.scrollToItem(index, align);
            // a tab brought to the front draws its cells over the next frames: wait until this one is drawn
            const frame = () => new Promise(resolve => requestAnimationFrame(resolve));
            const node = () => notebook.widgets[index].node;
            for (let frames = 0; frames < 600 && !(node().isConnected && node().getBoundingClientRect().height > 0);
                frames++) await frame();  // at most about ten seconds: the picture then shows what was drawn
            await frame();
            await frame();
            return true;
        }"""
        if self.window.evaluate(scroll, [None, "start"]):
            self.window.screenshot(path=SCREENSHOTS / f"{stem}-first-screen.png")
        if self.window.evaluate(scroll, ["the-lie", "start"]):
            self.window.screenshot(path=SCREENSHOTS / f"{stem}-the-lie.png")

    def finish(self) -> list[str]:
        try:
            # The run is over when the kernel is idle and either the last code cell has run or an error stopped
            # the run (a cell tagged raises-exception fails on purpose and does not). Read from the notebook's
            # model: a cell whose input is hidden shows no [*] prompt, and a queued cell is not yet "running".
            self.wait_for(
                f"""name => {{
                    const panel = {PANEL}(name);
                    const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
                    if (!kernel || kernel.status !== 'idle') return false;
                    const list = panel.content.model.cells;
                    const cells = Array.from({{length: list.length}}, (_, i) => list.get(i))
                        .filter(cell => cell.type === 'code');
                    const failed = cell => !(cell.getMetadata('tags') || []).includes('raises-exception')
                        && Array.from({{length: cell.outputs.length}}, (_, i) => cell.outputs.get(i))
                            .some(output => output.type === 'error');
                    return cells[cells.length - 1].executionCount !== null || cells.some(failed);
                }}""",
                timeout=RUN_ALL_WITHIN_MS,
            )
            self.to_front()  # Ctrl+S saves the tab in front
            self.window.keyboard.press("Control+s")
            self.wait_for(f"name => !{PANEL}(name).context.model.dirty", timeout=30_000)
            self.show_the_learner()
        finally:
            self.close()
        saved = self.lab.get(f"api/contents/{self.name}?content=1")["content"]
        problems = []
        for number, cell in enumerate(saved["cells"], start=1):
            if cell["cell_type"] != "code":
                continue
            if cell["execution_count"] is None:
                problems.append(f"cell {number} never ran")
            if "raises-exception" in cell["metadata"].get("tags", []):
                continue  # fails on purpose, as nbval also allows
            problems += [
                f"cell {number}: {out['ename']}: {out['evalue']}"
                for out in cell["outputs"]
                if out["output_type"] == "error"
            ]
        return problems


@pytest.fixture(scope="module")
def ran(lab: Lab, browser) -> dict[str, list[str]]:
    """Every notebook, and the broken one, run and saved in one JupyterLab window, TABS at a time, the longest
    (by size) first so that it does not run alone at the end: what went wrong in each."""
    window = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a workspace of its own, reset: the window opens with no notebook, whatever an earlier run left
        window.goto(f"{lab.url}lab/workspaces/browser-suite?reset&token={lab.token}")
        # every extension loaded and the layout restored (a flag set then, so that the wait is bounded)
        window.wait_for_function("() => window.jupyterapp", timeout=120_000, polling=POLL_MS)
        window.evaluate("() => { window.jupyterapp.restored.then(() => { window.cookbookRestored = true; }); }")
        window.wait_for_function("() => window.cookbookRestored", timeout=120_000, polling=POLL_MS)
        waiting = sorted([*NOTEBOOKS, BROKEN], key=lambda name: -len(notebook_text(name)))
        running: list[Tab] = []
        problems = {}
        try:
            while waiting or running:
                while waiting and len(running) < TABS:
                    running.append(Tab(window, lab, waiting.pop(0)))
                tab = running.pop(0)
                problems[tab.name] = tab.finish()
        finally:
            for tab in running:
                tab.close()
    finally:
        window.close()
    return dict(sorted(problems.items()))


def notebook_text(name: str) -> str:
    folder = ROOT / ("tests/data" if name == BROKEN else "notebooks")
    return (folder / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_clean_from_the_run_menu(ran: dict[str, list[str]], clone: Path, name: str) -> None:
    assert [] == ran[name]
    saved = json.loads((clone / "notebooks" / name).read_text())
    assert any(cell.get("outputs") for cell in saved["cells"]), "the saved notebook should hold its outputs"


def test_a_notebook_with_a_failing_cell_is_reported(ran: dict[str, list[str]]) -> None:
    """The check above can fail: on the broken notebook it names the failing cell and the one after it."""
    failing, never_ran = ran[BROKEN]
    assert failing.startswith("cell 3: InlineTestsFailed: 1 inline test failure(s):")
    assert "assert 42 == 41" in failing
    assert "cell 4 never ran" == never_ran


def test_after_saving_every_notebook_git_sees_no_change_and_the_checks_pass(ran, clone: Path) -> None:
    """Run, save, then `make test`'s checks: the outputs stay on disk and out of git."""
    assert [] == [line for line in git(clone, "status", "--porcelain").splitlines() if BROKEN not in line]
    checks = run(
        ["make", "--no-print-directory", *KEEP_THE_VENV, "check-export", "lint"],
        cwd=clone, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert 0 == checks.returncode, checks.stdout + checks.stderr


def test_the_lab_starts_without_a_warning(lab: Lab) -> None:
    started = lab.output.lines[: next(i for i, line in enumerate(lab.output.lines) if lab.url in line)]
    assert [] == [line for line in started if "Warning" in line or "WARNING" in line]


def test_the_lab_opens_the_primer_at_lab_too(lab: Lab, browser) -> None:
    """`/` redirects to the primer; `/lab` opens this checkout's default workspace, seeded with the primer."""
    page = browser.new_page()
    try:
        page.goto(f"{lab.url}lab?token={lab.token}")
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel", has_text=NOTEBOOKS[0])
        tab.first.wait_for(timeout=60_000)
    finally:
        page.close()


def test_the_file_browser_hides_ipytests_scratch_modules(lab: Lab, clone: Path) -> None:
    """While a cell's tests run, ipytest keeps them in t_<hash>.py next to the notebook: not for the reader."""
    scratch = clone / "notebooks" / "t_0123abcd.py"
    scratch.write_text("")
    try:
        listed = [item["name"] for item in lab.get("api/contents/")["content"]]
    finally:
        scratch.unlink()
    assert NOTEBOOKS[0] in listed
    assert "t_0123abcd.py" not in listed


@pytest.fixture(scope="module")
def site(ran: dict[str, list[str]], clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The website, built from the notebooks as JupyterLab saved them above (tools/site.py --executed)."""
    into = tmp_path_factory.mktemp("site")
    notebooks = [argument for name in NOTEBOOKS for argument in ("--notebook", str(clone / "notebooks" / name))]
    done = run(
        [sys.executable, str(ROOT / "tools/site.py"), "--build", str(into), "--executed", *notebooks],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert 0 == done.returncode, done.stdout + done.stderr
    return into / "html"


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    with serving(site) as url:
        yield url


class Opened:
    """A page of the site loading in a tab of its own, with what the browser reported while it loaded."""

    def __init__(self, browser, url: str) -> None:
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("requestfailed", lambda request: self.errors.append(f"{request.url}: {request.failure}"))
        self.response = self.page.goto(url, wait_until="commit")  # the rest of the load goes on meanwhile


@pytest.fixture(scope="module")
def opened(served: str, browser) -> Iterator[dict[str, Opened]]:
    """Every page of the site, all loading at once (each test then waits for its own): a page's load is
    mostly waiting, and the waits overlap."""
    pages: dict[str, Opened] = {}
    try:
        for name in PAGES:
            pages[name] = Opened(browser, f"{served}{name}.html")
        yield pages
    finally:
        for each in pages.values():
            each.page.close()


@pytest.mark.parametrize("name", PAGES)
def test_a_page_renders_with_working_links_and_no_browser_errors(
    site: Path, opened: dict[str, Opened], name: str
) -> None:
    page, errors = opened[name].page, opened[name].errors
    try:
        page.wait_for_load_state("networkidle")
        assert 200 == opened[name].response.status
        assert page.locator("h1:visible").count() == 1  # the page's title, rendered
        if name != "index":
            assert page.locator("div.cell pre").count() > 0  # the code, rendered
            binder = page.locator(f"a[href*='mybinder.org'][href*='{Path(name).name}.ipynb']")
            assert binder.count() > 0, "no link opening this notebook on Binder"
            assert page.locator("button.copybtn").count() > 0  # code that can be copied
        outputs = "\n".join(page.locator("div.cell_output").all_inner_texts())
        if name.startswith("notebooks/0") and not name.endswith("00_async_tests_in_notebooks"):
            assert " passed in " in outputs  # test results
        # test output reads as in JupyterLab: no progress dot alone on a line, no percentage cut short
        assert [] == [line for line in outputs.splitlines() if line.strip() == "."]
        # a progress percentage cut short at the end of its line, as "[100'" once was
        assert [] == re.findall(r"\[ ?\d{1,3}[%']?$", outputs, re.MULTILINE)
        cut = page.locator("div.cell pre, div.cell_output pre").evaluate_all(
            "blocks => blocks.filter(block => block.scrollWidth > block.clientWidth + 1).map(block => block.innerText)"
        )
        assert [] == cut, "code or output cut off at the right edge"
        if name == "index":  # written for readers: how to run the notebooks, not how to build the site
            text = page.locator("main").inner_text()
            assert "Run the notebooks yourself" in text
            assert "make site" not in text
        images = page.locator("div.cell_output img")
        loaded = images.evaluate_all("images => images.map(image => image.complete && image.naturalWidth > 0)")
        assert all(loaded), f"{loaded.count(False)} image(s) did not load"
        if name.endswith("06_retry"):
            assert loaded, "the retry recipe's plot should be on its page"
    finally:
        page.close()
    assert [] == errors
    assert [] == broken_links(site, site / f"{name}.html")
