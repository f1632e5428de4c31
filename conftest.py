"""Run-wide rules for every pytest this repository starts: `make test`, nbval over notebooks/, tests/.

- A notebook's cells run in notebook order, whatever plugin reorders tests (pytest-randomly,
  pytest-random-order): nbval executes them one after another in one kernel, and a test cell that
  runs before the Setup cell passes without testing anything. Orders that cannot be repaired (a
  notebook split across xdist workers) are refused with an error that says what to use instead.
- Nothing outlives the run: the controller ends when whatever started it (make, a shell) dies, and
  each xdist worker when the controller does (async_cookbook.testing.processes).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from async_cookbook.testing.processes import die_with_parent

# xdist's modes that keep each notebook whole on one worker ("no" is a run without xdist).
_NOTEBOOK_SAFE_DIST = {"no", "loadfile", "loadscope", "each"}


def _notebook(item: pytest.Item) -> str | None:
    path = item.nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


def pytest_configure(config: pytest.Config) -> None:
    die_with_parent()
    nbval = config.getoption("nbval", False) or config.getoption("nbval_lax", False)
    dist = config.getoption("dist", "no")
    if nbval and dist not in _NOTEBOOK_SAFE_DIST:
        raise pytest.UsageError(
            f"--dist {dist} would split a notebook's cells across workers, but they share one kernel: "
            "run notebooks with --dist loadfile (as `make test` does)"
        )


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    # After every other implementation, shufflers included: put each notebook's cells back in order,
    # together, where the notebook's first cell landed. Other tests keep the order they were given.
    result = yield
    cells: dict[str, list[pytest.Item]] = {}
    for item in items:
        if (notebook := _notebook(item)) is not None:
            cells.setdefault(notebook, []).append(item)
    if not cells:
        return result
    ordered: list[pytest.Item] = []
    for item in items:
        notebook = _notebook(item)
        if notebook is None:
            ordered.append(item)
        elif notebook in cells:
            ordered.extend(sorted(cells.pop(notebook), key=lambda cell: cell.cell_num))
    items[:] = ordered
    return result


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse to run when a notebook's cells are not together and in order, whatever caused it."""
    seen: dict[str, int] = {}
    previous = None
    for item in session.items:
        notebook = _notebook(item)
        if notebook is not None:
            if notebook in seen and (notebook != previous or item.cell_num <= seen[notebook]):
                raise pytest.UsageError(f"{notebook}: its cells are not in notebook order; cannot run it")
            seen[notebook] = item.cell_num
        previous = notebook
