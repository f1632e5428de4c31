"""What a learner meets: every recipe keeps the reader's rules that tools/learner.py states (the lie
before the first export, short visible cells, a bounded amount of visible code, hidden cells hidden in
JupyterLab and on the site alike), and the rules themselves can fail."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import learner  # noqa: E402  (tools/ is not a package)

RECIPES = sorted(path for path in (ROOT / "notebooks").glob("*.ipynb") if learner.is_recipe(path))


@pytest.mark.parametrize("notebook", RECIPES, ids=[path.stem for path in RECIPES])
def test_a_recipe_keeps_the_learners_rules(notebook: Path) -> None:
    assert [] == learner.shape(notebook).problems()


def code(source: str, *tags: str, hidden_in_lab: bool = False) -> dict:
    metadata = {"tags": list(tags)} | ({"jupyter": {"source_hidden": True}} if hidden_in_lab else {})
    return {"cell_type": "code", "metadata": metadata, "source": [source], "outputs": [], "execution_count": None}


def notebook(tmp_path: Path, *cells: dict) -> Path:
    path = tmp_path / "01_demo.ipynb"
    path.write_text(json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_lie_after_the_first_export_a_long_cell_and_too_much_code_are_named(tmp_path: Path) -> None:
    long = "\n".join(f"x{i} = {i}" for i in range(41))
    shape = learner.shape(
        notebook(tmp_path, code("#| export\ndef f(): ..."), code(long), *[code(long)] * 10, code("ran()", "the-lie"))
    )
    assert [
        "the lie runs at cell 13, after the first exported definition (cell 1)",
        "cell 2 shows 41 lines of code (at most 40)",
        "454 visible code lines (at most 450)",
    ] == shape.problems()


def test_hidden_cells_do_not_count_and_must_be_hidden_in_both_places(tmp_path: Path) -> None:
    long = "\n".join(f"x{i} = {i}" for i in range(80))
    shape = learner.shape(notebook(tmp_path, code("ran()", "the-lie"), code(long, "hide-input", hidden_in_lab=True)))
    assert (1, 1, []) == (shape.visible_lines, shape.longest, shape.problems())
    with pytest.raises(ValueError, match="hidden only in the site"):
        learner.shape(notebook(tmp_path, code(long, "hide-input")))
    with pytest.raises(ValueError, match=r"hidden only in JupyterLab \(jupyter.source_hidden\)"):
        learner.shape(notebook(tmp_path, code(long, hidden_in_lab=True)))


def test_a_recipe_without_the_lie_is_named(tmp_path: Path) -> None:
    assert ["no code cell is tagged 'the-lie' (the original's test passing against broken code)"] == (
        learner.shape(notebook(tmp_path, code("pass"))).problems()
    )
