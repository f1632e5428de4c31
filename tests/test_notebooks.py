"""The notebook toolchain: nbval fails on a failing inline test, and `make test` notices a notebook
whose exported code or test cells disagree with the committed files."""

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from async_cookbook.testing.processes import run, spawn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as sync  # noqa: E402  (tools/ is not a package)

FAILING = str(ROOT / "tests/data/failing_inline_test.ipynb")
NBVAL = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-p", "no:xdist"]


# pytest-randomly shuffles nbval's cells like any other tests; with seeds 1, 2 and 4 the test cell ran
# before the Setup cell and passed without testing anything, until cells were put back in notebook order.
SEEDS = [1, 2, 4]


@pytest.fixture(scope="module")
def shuffled_runs() -> dict[int, subprocess.CompletedProcess]:
    """nbval over the failing notebook with pytest-randomly on, once per seed, the runs side by side."""
    runs = {
        seed: spawn([*NBVAL, "-p", "randomly", f"--randomly-seed={seed}", FAILING],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        for seed in SEEDS
    }  # fmt: skip
    try:
        finished = {}
        for seed, process in runs.items():
            output, _ = process.communicate(timeout=90)
            finished[seed] = subprocess.CompletedProcess(process.args, process.returncode, output)
        return finished
    finally:
        for process in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.parametrize("seed", SEEDS)
def test_failing_inline_test_fails_nbval_in_any_order(shuffled_runs, seed) -> None:
    """A notebook whose %%ipytest cell fails makes nbval fail, with the `E` line in the report, whatever
    order pytest-randomly draws: the cells run in notebook order."""
    done = shuffled_runs[seed]
    assert f"--randomly-seed={seed}" in done.stdout
    assert pytest.ExitCode.TESTS_FAILED == done.returncode, done.stdout
    assert "1 inline test failure(s)" in done.stdout
    assert "E   assert 42 == 41" in done.stdout


def test_splitting_a_notebook_across_workers_is_refused() -> None:
    """xdist's default mode would send a notebook's cells to different kernels: the run stops, saying what to use."""
    dist = "load"  # what `-n 2` alone means; worksteal and loadgroup are refused the same way
    done = run([*NBVAL[:-2], "-n", "2", FAILING], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert pytest.ExitCode.USAGE_ERROR == done.returncode, done.stdout + done.stderr
    assert (
        f"--dist {dist} would split a notebook's cells across workers, but they share one kernel: "
        "run notebooks with --dist loadfile (as `make test` does)"
    ) in done.stderr


def order_rules():
    """The repository's root conftest.py, loaded as a module of its own."""
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    return rules


def run_order_hooks(items: list) -> list[str]:
    """The repository conftest's reordering hook run over `items`, then its check; the node ids in the end."""
    rules = order_rules()
    hook = rules.pytest_collection_modifyitems(items)
    next(hook)
    with contextlib.suppress(StopIteration):
        hook.send(None)
    rules.pytest_collection_finish(SimpleNamespace(items=items))
    return [item.nodeid for item in items]


def fake(nodeid: str) -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, cell_num=int(nodeid.rsplit(" ", 1)[-1]) if " " in nodeid else None)


def test_cells_go_back_together_and_in_order_where_their_notebook_began() -> None:
    shuffled = ["a.py::t1", "n.ipynb::Cell 2", "b.py::t2", "n.ipynb::Cell 0", "m.ipynb::Cell 1", "n.ipynb::Cell 1",
                "m.ipynb::Cell 0"]  # fmt: skip
    assert ["a.py::t1", "n.ipynb::Cell 0", "n.ipynb::Cell 1", "n.ipynb::Cell 2", "b.py::t2", "m.ipynb::Cell 0",
            "m.ipynb::Cell 1"] == run_order_hooks([fake(nodeid) for nodeid in shuffled])  # fmt: skip


@pytest.mark.parametrize(
    "order",
    [["n.ipynb::Cell 1", "n.ipynb::Cell 0"], ["n.ipynb::Cell 0", "a.py::t", "n.ipynb::Cell 1"]],
    ids=["reversed", "split"],
)
def test_cells_out_of_order_at_the_end_of_collection_stop_the_run(order) -> None:
    """If a plugin reorders after the repair, the run is refused rather than run wrong."""
    with pytest.raises(pytest.UsageError, match=r"^n\.ipynb: its cells are not in notebook order; cannot run it$"):
        order_rules().pytest_collection_finish(SimpleNamespace(items=[fake(nodeid) for nodeid in order]))


def cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": f"c{abs(hash(source)) % 10**8}",
            "metadata": {}, "outputs": [], "source": source}  # fmt: skip


def notebook(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


DEMO = [
    cell("#| default_exp demo"),
    cell("import pytest\n\nfrom async_cookbook.notebook import setup\n\nsetup()"),
    cell('#| export\ndef double(x: int) -> int:\n    "Twice `x`."\n    return 2 * x'),
    cell("#| test_support\n@pytest.fixture\ndef three():\n    return 3"),
    cell("%%ipytest\ndef test_double(three):\n    assert 6 == double(three)"),
    cell("%%ipytest\n#| notebook_only\ndef test_naive():\n    assert True"),
    cell("print(double(21))"),
]


def hand_written_only(folder: str, names: list[str]) -> list[str]:
    """copytree's filter: leave out caches and every module generated from a notebook."""
    return [
        name
        for name in names
        if name == "__pycache__" or (name.endswith(".py") and sync.MARKER in Path(folder, name).read_text()[:300])
    ]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway copy of the project's layout with one small notebook, exported."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "notebooks").mkdir()
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=hand_written_only)
    (tmp_path / "notebooks/99_demo.ipynb").write_text(json.dumps(notebook(*DEMO)))
    sync.export(tmp_path)
    return tmp_path


def test_export_writes_module_and_test_module(project: Path) -> None:
    """Exported cells become the module; %%ipytest and test_support cells become its test module."""
    module = (project / "src/async_cookbook/demo.py").read_text()
    tests = (project / "tests/generated/test_demo.py").read_text()
    assert "AUTOGENERATED" in module
    assert '__all__ = ["double"]' in module
    assert "from async_cookbook.demo import double" in tests
    assert "def three():" in tests
    assert "def test_double(three):" in tests
    assert "test_naive" not in tests, "a notebook_only cell stays out of the suite"
    assert "print(double(21))" not in tests, "a demo cell stays out of the suite"
    assert "async_cookbook.notebook" not in tests
    assert [] == sync.check(project)


def test_generated_test_module_passes_against_the_module(project: Path) -> None:
    """The generated module is a working pytest module, importing the exported code."""
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests/generated"],
        capture_output=True, text=True, timeout=120, cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
    )  # fmt: skip
    assert 0 == done.returncode, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def edit(project: Path, index: int, source: str) -> None:
    path = project / "notebooks/99_demo.ipynb"
    data = json.loads(path.read_text())
    data["cells"][index]["source"] = source
    path.write_text(json.dumps(data, indent=1))


def test_check_names_a_module_its_notebook_no_longer_matches(project: Path) -> None:
    """Editing exported code without `make export` is caught, naming the stale module."""
    edit(project, 2, '#| export\ndef double(x: int) -> int:\n    "Twice `x`."\n    return x + x')
    problems = sync.check(project)
    assert any(line.startswith("src/async_cookbook/demo.py: differs") for line in problems), problems


def test_check_names_a_stale_test_module(project: Path) -> None:
    edit(project, 4, "%%ipytest\ndef test_double(three):\n    assert 6 == double(3)")
    assert any(line.startswith("tests/generated/test_demo.py: differs") for line in sync.check(project))


def test_check_refuses_committed_outputs(project: Path) -> None:
    """A notebook saved with outputs or execution counts fails the check."""
    path = project / "notebooks/99_demo.ipynb"
    data = json.loads(path.read_text())
    data["cells"][6]["execution_count"] = 3
    data["cells"][6]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
    path.write_text(json.dumps(data, indent=1))
    assert [
        "notebooks/99_demo.ipynb: not in its cleaned form (outputs, execution counts, metadata or code formatting)"
    ] == sync.check(project)


def test_check_names_a_module_whose_notebook_is_gone(project: Path) -> None:
    (project / "notebooks/99_demo.ipynb").unlink()
    problems = sync.check(project)
    assert "src/async_cookbook/demo.py: generated from a notebook that no longer exports it" in problems


def test_a_test_defined_twice_is_refused(project: Path) -> None:
    """Two cells defining one name would silently lose a test in a module: export says so instead."""
    edit(project, 5, "%%ipytest\ndef test_double():\n    assert True")
    with pytest.raises(sync.SyncError, match="test_double is defined twice"):
        sync.export(project)
