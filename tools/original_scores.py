"""Measure the original tests' mutation scores again: `python tools/original_scores.py SEED`.

SEED is the document the cookbook grew from (async-testing-examples.md): six examples of async code,
each a production module and its pytest tests in ```python blocks whose first line names the file
(`# client.py`). It is not part of this repository. For each example whose tests run as written
(examples 1 and 6; the others need repairs first, see original-mutation-scores.toml), this builds a
scratch project holding the module and its tests, runs mutmut there, and prints the share of mutants
killed next to the figure in original-mutation-scores.toml. Exit status 1 when a figure differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import tempfile
import tomllib
from pathlib import Path

from mutation import KILLED, MUTMUT, results  # tools/mutation.py, next to this file

from async_cookbook.testing.processes import run

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "original-mutation-scores.toml"
# recipe module -> the example's production file and its test file, as the document names them
RUNS_AS_WRITTEN = {"weather": ("client.py", "test_client.py"), "retry": ("retry.py", "test_retry.py")}
SETTINGS = """
[project]
name = "original"
version = "0"

[tool.mutmut]
source_paths = ["src/"]
pytest_add_cli_args_test_selection = ["tests"]
pytest_add_cli_args = {options}

[tool.pytest.ini_options]
pythonpath = ["src"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""
# Plugins of this environment that the original tests do not use.
OPTIONS = ["-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:nbval", "-p", "no:xdist"]
# Example 1's tests use pytest-mock's `mocker.patch.object`; where pytest-mock is not installed, this is it.
MOCKER = """
from unittest import mock

import pytest


@pytest.fixture
def mocker():
    started = []

    class Patch:
        @staticmethod
        def object(target, attribute, new):
            started.append(mock.patch.object(target, attribute, new))
            return started[-1].start()

    yield type("Mocker", (), {"patch": Patch})()
    for patch in reversed(started):
        patch.stop()
"""


def files(seed: Path) -> dict[str, str]:
    """file name -> its code, for every ```python block of the document that starts with `# name.py`."""
    blocks = re.findall(r"```python\n# (\S+\.py)\n(.*?)```", seed.read_text(encoding="utf-8"), flags=re.S)
    return dict(blocks)


def measure(module: str, code: dict[str, str], scratch: Path) -> tuple[int, int]:
    """(killed, total) mutants of one example, with its tests as written."""
    source, tests = RUNS_AS_WRITTEN[module]
    project = scratch / module
    (project / "src").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text(SETTINGS.format(options=json.dumps(OPTIONS)))
    (project / "src" / source).write_text(code[source])
    (project / "tests" / tests).write_text(code[tests])
    if "mocker" in code[tests] and importlib.util.find_spec("pytest_mock") is None:
        (project / "tests/conftest.py").write_text(MOCKER)
    done = run([*MUTMUT, "run"], cwd=project, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mutmut failed on the {module} example:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    statuses = results(project)
    return sum(status in KILLED for status in statuses.values()), len(statuses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", type=Path, help="the original document, async-testing-examples.md")
    options = parser.parse_args()
    code = files(options.seed)
    recorded = tomllib.loads(FIGURES.read_text(encoding="utf-8"))["modules"]
    differ = 0
    with tempfile.TemporaryDirectory(prefix="original-scores-") as scratch:
        for module in RUNS_AS_WRITTEN:
            killed, total = measure(module, code, Path(scratch))
            score = round(100 * killed / total)
            low, high = recorded[module]["low"], recorded[module]["high"]
            same = low <= score <= high
            differ += not same
            verdict = "as recorded" if same else f"DIFFERS from the recorded {low}-{high} %"
            print(f"{module:8} {killed} of {total} mutants killed: {score} %, {verdict}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
