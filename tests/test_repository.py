"""The repository's front door: `make lab` serves JupyterLab, and the README lists what exists."""

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Lab, running_lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lab() -> Iterator[Lab]:
    with running_lab(ROOT) as lab:
        yield lab


def test_make_lab_serves_jupyterlab_on_the_notebooks(lab: Lab) -> None:
    """The README's first command starts a working JupyterLab whose file browser opens on notebooks/."""
    assert "started" in lab.get("api/status")
    # the address JupyterLab prints, and opens in a browser, is the primer's
    primer = f"{lab.url}lab/tree/00_async_tests_in_notebooks.ipynb"
    if primer not in lab.output.text():
        lab.output.wait_for(lambda line: primer in line, timeout=30)
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


def test_make_test_starts_the_longest_files_first() -> None:
    spec = importlib.util.spec_from_file_location("tests_conftest", ROOT / "tests/conftest.py")
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    files = ["tests/test_a.py", *reversed(rules.LONGEST_FIRST), "tests/test_b.py"]
    assert [*rules.LONGEST_FIRST, "tests/test_a.py", "tests/test_b.py"] == rules.scheduled(files)
    assert ["tests/test_browser.py", "tests/test_b.py", "tests/test_a.py"] == rules.scheduled(
        ["tests/test_b.py", "tests/test_browser.py", "tests/test_a.py"]
    )
    assert all((ROOT / name).exists() for name in rules.LONGEST_FIRST), "a file named there is gone"
