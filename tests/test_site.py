"""The website's tools without a browser: `make site` fails on a failing notebook, the link checker finds
what points nowhere, a build from saved outputs refuses notebooks that did not run cleanly, and the
publishing workflow runs `make site` only. The pages themselves are opened in Chromium by
tests/test_browser.py, built from the notebooks JupyterLab has just run there (no third execution)."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

from helpers import broken_links

from async_cookbook.testing.processes import run

ROOT = Path(__file__).resolve().parent.parent
FAILING = ROOT / "tests/data/failing_inline_test.ipynb"


def build(into: Path, *notebooks: Path, executed: bool = False) -> subprocess.CompletedProcess[str]:
    """tools/site.py over `notebooks`; `executed`: render their saved outputs instead of running them."""
    options = [argument for notebook in notebooks for argument in ("--notebook", str(notebook))]
    return run(
        [sys.executable, str(ROOT / "tools/site.py"), "--build", str(into), *options, *(["--executed"] * executed)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_a_broken_internal_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html">b</a><a href="a.html#nowhere">x</a>')
    (tmp_path / "c.html").write_text('<a href="a.html#top">fine</a><a href="https://example.com/">away</a>')
    assert ["b.html: no such page", "a.html#nowhere: no such anchor"] == broken_links(tmp_path, tmp_path / "a.html")
    assert [] == broken_links(tmp_path, tmp_path / "c.html")


def test_a_notebook_whose_cell_fails_fails_the_build(tmp_path: Path) -> None:
    """Also a link that points nowhere: the README's table links notebooks this build leaves out."""
    done = build(tmp_path, FAILING)
    log = re.sub(r"\x1b\[[0-9;]*m", "", done.stderr)  # the traceback comes in colour
    assert 0 != done.returncode
    assert "InlineTestsFailed: 1 inline test failure(s)" in log  # the cell's error, in the log
    assert "E   assert 42 == 41" in log
    assert "cross-reference target not found: 'notebooks/06_retry.ipynb'" in log
    assert "site: the build failed" in log


def test_saved_outputs_with_an_error_or_a_cell_that_never_ran_are_refused(tmp_path: Path) -> None:
    """The build from saved outputs cannot publish a notebook that failed in JupyterLab, nor one half run."""
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Ran"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["1 + 1"], "outputs": []},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": ["1 / 0"], "outputs": [
            {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": []}]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "source": ["never"], "outputs": []},
        {"cell_type": "code", "metadata": {"tags": ["raises-exception"]}, "execution_count": 3, "source": ["1 / 0"],
         "outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "on purpose", "traceback": []}]},
    ]  # fmt: skip
    notebook = tmp_path / "half.ipynb"
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    done = build(tmp_path / "out", notebook, executed=True)
    assert 1 == done.returncode
    assert "half.ipynb: cell 3: ZeroDivisionError: division by zero" in done.stderr
    assert "half.ipynb: cell 4 never ran" in done.stderr
    assert "on purpose" not in done.stderr  # a cell tagged raises-exception fails by design
    assert not (tmp_path / "out").exists(), "nothing should be built"


def test_the_publishing_workflow_only_calls_make_site() -> None:
    workflow = (ROOT / ".github/workflows/site.yml").read_text()
    runs = [line.strip().removeprefix("- ") for line in workflow.splitlines() if "run:" in line]
    assert ["run: make site"] == runs
    assert "path: _build/html" in workflow


def site_tool():
    """tools/site.py as a module (its name would clash with the standard library's `site`)."""
    spec = importlib.util.spec_from_file_location("site_tool", ROOT / "tools/site.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_the_landing_page_is_written_for_readers_with_the_readmes_table() -> None:
    tool = site_tool()
    readme = (ROOT / "README.md").read_text()
    page = tool.landing_page((ROOT / "site/index.md").read_text(), readme, ["00_a.ipynb", "01_b.ipynb"])
    table = tool.notebooks_table(readme)
    assert table.splitlines()[0] == "| Notebook | What you learn | Time to learn |"
    assert len(table.splitlines()) == 2 + len(list((ROOT / "notebooks").glob("*.ipynb")))
    assert table.splitlines()[2] in page  # the README's rows, links to notebooks kept as they are
    assert "{notebooks}" not in page
    assert "make site" not in page
    assert "make test" not in page
    assert page.endswith("```{toctree}\n:hidden:\n:caption: Notebooks\n\nnotebooks/00_a\nnotebooks/01_b\n```\n")
