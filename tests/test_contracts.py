"""Each recipe notebook shows its contract: a table of every promise its code makes, each row naming the
tests that check it. This keeps the table honest: a row names at least one test, and each test it names
exists in the recipe's generated suite (which `make test` runs, so it also passes)."""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPES = sorted(
    path
    for path in (ROOT / "notebooks").glob("*.ipynb")
    if "#| default_exp" in path.read_text()  # the primer exports nothing and promises nothing
)


def module_of(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    (name,) = re.findall(r"#\| default_exp (\w+)$", "\n".join("".join(cell["source"]) for cell in cells), re.M)
    return name


def contract_rows(notebook: Path) -> list[tuple[str, list[str]]]:
    """(promise, tests) for each row of the table under the notebook's `## The contract` heading."""
    cells = json.loads(notebook.read_text())["cells"]
    tables = ["".join(cell["source"]) for cell in cells if "".join(cell["source"]).startswith("## The contract")]
    assert 1 == len(tables), f"{notebook.name}: expected one '## The contract' cell, found {len(tables)}"
    rows = [line for line in tables[0].splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert rows[0] == "| Promise | Checked by |", rows[0]
    parsed = []
    for row in rows[1:]:
        promise, tests = row.strip("| ").rsplit(" | ", 1)
        parsed.append((promise, re.findall(r"`(test_\w+)`", tests)))
    return parsed


def defined_tests(module: str) -> set[str]:
    tree = ast.parse((ROOT / f"tests/generated/test_{module}.py").read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


@pytest.mark.parametrize("notebook", RECIPES, ids=[path.stem for path in RECIPES])
def test_every_promise_names_tests_that_exist(notebook: Path) -> None:
    rows = contract_rows(notebook)
    assert len(rows) >= 5, f"{notebook.name}: a contract of {len(rows)} promises"
    assert [] == [promise for promise, tests in rows if not tests], "promises with no test"
    defined = defined_tests(module_of(notebook))
    assert [] == sorted({test for _, tests in rows for test in tests} - defined), "named, but not in the suite"


def test_a_row_naming_a_missing_test_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a contract naming a test the suite lacks is reported."""
    notebook = tmp_path / "99_demo.ipynb"
    table = "## The contract\n\n| Promise | Checked by |\n| --- | --- |\n| It works | `test_that_was_never_written` |"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": [table]}]}))
    ((promise, tests),) = contract_rows(notebook)
    assert ("It works", ["test_that_was_never_written"]) == (promise, tests)
    assert "test_that_was_never_written" not in defined_tests("retry")
