"""What a learner meets in each notebook: `python tools/learner.py [--check] [notebook ...]`.

Per notebook it prints the cells, the visible code lines and the longest visible code cell, where the
original's lying test runs (the first code cell tagged `the-lie`) and where the first exported
definition is, and an estimate of the time to learn.

- A code cell is hidden when the reader sees it collapsed both in JupyterLab (`jupyter.source_hidden`
  in its metadata) and on the site (a `hide-input` or `hide-cell` tag). Hidden in only one of the two is
  an error: the two ways of reading would disagree. Reference material (contract and edge tests,
  fixture plumbing) is hidden; the code a recipe teaches never is.
- Time to learn: prose read at 200 words a minute, visible code at 15 lines a minute, plus one minute
  for each visible cell that runs tests (reading its result), rounded up to 5 minutes.

`--check` fails (exit 1), naming the notebook and the rule, when a recipe (01-06) breaks the learner's
rules: the lie runs before the first exported definition, no visible code cell over 40 lines, at most
450 visible code lines.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LONGEST_CELL, MOST_LINES = 40, 450
LIE_TAG = "the-lie"
HIDE_TAGS = {"hide-input", "hide-cell"}


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def hidden(cell: dict) -> bool:
    """Collapsed for the reader in JupyterLab and on the site; ValueError when only in one of them."""
    in_lab = bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))
    on_site = bool(HIDE_TAGS & set(cell.get("metadata", {}).get("tags", [])))
    if in_lab != on_site:
        where = "JupyterLab (jupyter.source_hidden)" if in_lab else "the site (a hide-input/hide-cell tag)"
        raise ValueError(f"a cell hidden only in {where}: {_source(cell)[:60]!r}")
    return in_lab


@dataclass
class Shape:
    name: str
    cells: int
    visible_lines: int
    longest: int  # lines of the longest visible code cell
    longest_at: int  # its cell number, from 1
    lie_at: int | None  # cell number of the first code cell tagged the-lie
    export_at: int | None  # cell number of the first `#| export` cell
    minutes: int

    def problems(self) -> list[str]:
        found = []
        if self.lie_at is None:
            found.append(f"no code cell is tagged {LIE_TAG!r} (the original's test passing against broken code)")
        elif self.export_at is not None and self.lie_at > self.export_at:
            found.append(
                f"the lie runs at cell {self.lie_at}, after the first exported definition (cell {self.export_at})"
            )
        if self.longest > LONGEST_CELL:
            found.append(f"cell {self.longest_at} shows {self.longest} lines of code (at most {LONGEST_CELL})")
        if self.visible_lines > MOST_LINES:
            found.append(f"{self.visible_lines} visible code lines (at most {MOST_LINES})")
        return found


def shape(notebook: Path) -> Shape:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    visible_lines = longest = longest_at = words = test_cells = 0
    lie_at = export_at = None
    for number, cell in enumerate(cells, start=1):
        source = _source(cell)
        if cell["cell_type"] == "markdown":
            words += len(re.findall(r"\w+", source))
            continue
        if cell["cell_type"] != "code":
            continue
        if lie_at is None and LIE_TAG in cell.get("metadata", {}).get("tags", []):
            lie_at = number
        if export_at is None and re.search(r"^#\| export\b", source, re.M):
            export_at = number
        if hidden(cell):
            continue
        lines = len(source.splitlines())
        visible_lines += lines
        if lines > longest:
            longest, longest_at = lines, number
        test_cells += source.startswith("%%ipytest")
    minutes = words / 200 + visible_lines / 15 + test_cells
    return Shape(notebook.stem, len(cells), visible_lines, longest, longest_at, lie_at, export_at,
                 5 * math.ceil(minutes / 5))  # fmt: skip


def is_recipe(notebook: Path) -> bool:
    return re.match(r"0[1-6]_", notebook.name) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--check", action="store_true", help="fail when a recipe breaks the learner's rules")
    options = parser.parse_args()
    notebooks = options.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(f"{'notebook':30} {'cells':>5} {'visible':>7} {'longest':>11} {'lie':>4} {'export':>6} {'minutes':>7}")
    failed = False
    for notebook in notebooks:
        try:
            found = shape(notebook)
        except ValueError as error:
            print(f"{notebook.stem}: {error}")
            failed = True
            continue
        at = lambda number: "-" if number is None else str(number)  # noqa: E731
        longest = f"{found.longest} (cell {found.longest_at})"
        print(f"{found.name:30} {found.cells:>5} {found.visible_lines:>7} {longest:>11}"
              f" {at(found.lie_at):>4} {at(found.export_at):>6} {found.minutes:>7}")  # fmt: skip
        if options.check and is_recipe(notebook):
            for problem in found.problems():
                print(f"  {found.name}: {problem}")
                failed = True
    return 1 if options.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
