"""The notebook toolchain: nbval fails on a failing inline test, and `make test` notices a notebook
whose exported code or test cells disagree with the committed files."""

import ast
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import random
import runpy
import shutil
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from async_cookbook.testing.processes import run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as sync  # noqa: E402  (tools/ is not a package)

FAILING = str(ROOT / "tests/data/failing_inline_test.ipynb")
NBVAL = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-p", "no:xdist"]


# pytest-randomly shuffles nbval's cells like any other tests. With seed 1 the test cell of the failing notebook
# comes before its Setup cell (`pytest --noconftest --collect-only -p randomly --randomly-seed=1` shows it), and it
# ran there and passed without testing anything until cells were put back in notebook order. The hooks that do
# that are tested over many orders below, in-process; this one real run proves they are wired into nbval's run.
SEED = 1


def test_failing_inline_test_fails_nbval_in_any_order() -> None:
    """A notebook whose %%ipytest cell fails makes nbval fail, with the `E` line in the report, whatever
    order pytest-randomly draws: the cells run in notebook order."""
    done = run(
        [*NBVAL, "-p", "randomly", f"--randomly-seed={SEED}", FAILING],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert f"--randomly-seed={SEED}" in done.stdout
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


@pytest.mark.parametrize("seed", range(50))
def test_any_shuffle_is_put_back_in_notebook_order(seed) -> None:
    """Whatever order a shuffler draws, each notebook's cells run together and in order, and the other tests
    keep the order they were given."""
    items = [f"t{n}.py::test" for n in range(4)] + [f"{name}.ipynb::Cell {n}" for name in "mn" for n in range(5)]
    random.Random(seed).shuffle(items)
    ordered = run_order_hooks([fake(nodeid) for nodeid in items])
    assert [item for item in items if ".py::" in item] == [item for item in ordered if ".py::" in item]
    for name in "mn":
        at = [index for index, item in enumerate(ordered) if item.startswith(f"{name}.ipynb")]
        assert list(range(at[0], at[0] + 5)) == at
        assert [f"{name}.ipynb::Cell {n}" for n in range(5)] == [ordered[index] for index in at]


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


def save_as_jupyterlab_does(path: Path) -> None:
    """What a reader's Run All and save leave in a notebook: counts, outputs, editor metadata."""
    data = json.loads(path.read_text())
    for number, cell in enumerate(data["cells"]):
        if cell["cell_type"] == "code":
            cell["execution_count"] = number
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
            cell["metadata"]["execution"] = {"iopub.status.idle": "2026-11-25T10:00:00.000Z"}
            cell["metadata"]["scrolled"] = True
    data["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
    path.write_text(json.dumps(data, indent=1))


def test_outputs_a_reader_saved_pass_the_check_and_are_what_the_git_filter_removes(project: Path) -> None:
    path = project / "notebooks/99_demo.ipynb"
    committed = path.read_text()
    save_as_jupyterlab_does(path)
    assert [] == sync.check(project)
    assert committed == sync.cleaned(path.read_text())
    filtered = run(  # git runs the filter this way, with the notebook on stdin
        [sys.executable, str(ROOT / "tools/notebooks.py"), "clean"],
        input=path.read_text(), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert committed == filtered.stdout


def test_check_names_a_notebook_whose_code_is_not_formatted(project: Path) -> None:
    edit(project, 6, "print( double(21) )")
    assert ["notebooks/99_demo.ipynb: its code is not formatted as `make export` formats it"] == sync.check(project)


def git(repository: Path, *args: str) -> str:
    return run(["git", *args], cwd=repository, capture_output=True, text=True, timeout=60, check=True).stdout


def lab_save_hook():
    """The save hook, as JupyterLab gets it: the configuration file turns the extension on, and the
    extension registers the hook with the contents manager."""
    settings = SimpleNamespace(ServerApp=SimpleNamespace(), ContentsManager=SimpleNamespace(), LabApp=SimpleNamespace())
    runpy.run_path(str(ROOT / "tools/lab/jupyter_server_config.py"), init_globals={"get_config": lambda: settings})
    (extension,) = settings.ServerApp.jpserver_extensions
    assert "t_*.py" in settings.ContentsManager.hide_globs  # ipytest's scratch modules stay out of sight
    hooks = []
    server = SimpleNamespace(contents_manager=SimpleNamespace(register_post_save_hook=hooks.append))
    importlib.import_module(extension)._load_jupyter_server_extension(server)
    (hook,) = hooks
    return hook


def test_after_a_save_git_status_shows_the_notebook_unchanged(project: Path) -> None:
    """The lab's save hook: a notebook that differs only by outputs is listed as unchanged, which git,
    seeing another file size, would not do by itself; a notebook with an edit is left alone."""
    shutil.copy(ROOT / ".gitattributes", project)
    git(project, "init", "--quiet")
    git(project, "config", "filter.notebook-outputs.clean", f"{sys.executable} {ROOT / 'tools/notebooks.py'} clean")
    git(project, "add", ".gitattributes", "notebooks")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "clean")
    path = project / "notebooks/99_demo.ipynb"
    save_as_jupyterlab_does(path)
    assert " M notebooks/99_demo.ipynb\n" == git(project, "status", "--porcelain", "notebooks")
    hook = lab_save_hook()
    hook({"type": "notebook"}, str(path), None)
    assert "" == git(project, "status", "--porcelain", "notebooks")
    assert "" == git(project, "diff", "--cached")  # nothing was staged
    edit(project, 6, "print(double(22))")
    hook({"type": "notebook"}, str(path), None)
    assert " M notebooks/99_demo.ipynb\n" == git(project, "status", "--porcelain", "notebooks")


def test_a_notebook_added_to_git_with_its_outputs_is_named(project: Path) -> None:
    """Without the filter (a fresh clone before any `make`), `git add` would store the outputs."""
    git(project, "init", "--quiet")
    path = project / "notebooks/99_demo.ipynb"
    save_as_jupyterlab_does(path)
    git(project, "add", "notebooks")
    assert [
        "notebooks/99_demo.ipynb: git holds it with outputs; run `make test` (it registers the filter that strips"
        " them), then `git add` it again"
    ] == sync.check(project)


def test_a_notebook_copied_to_an_empty_folder_runs_its_inline_tests(tmp_path: Path) -> None:
    """No pyproject.toml around it: setup() alone gives the inline tests the repository's settings. The
    failing notebook's async test reaches its assertion, which it only does with pytest-asyncio in auto mode
    (without it, pytest refuses the test as an unsupported coroutine). A small notebook, so that no recipe
    runs a third time in `make test`."""
    shutil.copy(FAILING, tmp_path)
    done = run(
        [*NBVAL, "-p", "no:randomly", "-o", "asyncio_default_fixture_loop_scope=function", Path(FAILING).name],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert pytest.ExitCode.TESTS_FAILED == done.returncode, done.stdout + done.stderr
    assert f"rootdir: {tmp_path}\n" in done.stdout  # no configuration file found or used
    assert "E   assert 42 == 41" in done.stdout
    assert "not natively supported" not in done.stdout


def requirement_closure(names: list[str]) -> set[str]:
    """Every distribution that installing `names` brings, by normalised name."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen, todo = set(), list(names)
    while todo:
        requirement = Requirement(todo.pop())
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += importlib.metadata.requires(name) or []
    return seen


def test_the_notebooks_extra_provides_every_module_the_notebooks_import() -> None:
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [
        *project["dependencies"],
        *extras["testing"],
        *(r for r in extras["notebooks"] if "async-cookbook" not in r),
    ]
    installed = requirement_closure(wanted)
    providers = importlib.metadata.packages_distributions()
    imported = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for code in (c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"):
            lines = [line for line in "".join(code["source"]).splitlines() if not line.startswith(("%", "#|"))]
            for node in ast.walk(ast.parse("\n".join(lines))):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
    own = {"async_cookbook"} | {path.stem for path in (ROOT / "tools").glob("*.py")}  # the capstone uses tools/
    third_party = sorted(imported - set(sys.stdlib_module_names) - own)
    assert {"aiohttp", "hypothesis", "ipytest", "looptime", "pytest"} <= set(third_party)
    missing = [m for m in third_party if not {canonicalize_name(d) for d in providers.get(m, [])} & installed]
    assert [] == missing


def test_check_names_a_module_whose_notebook_is_gone(project: Path) -> None:
    (project / "notebooks/99_demo.ipynb").unlink()
    problems = sync.check(project)
    assert "src/async_cookbook/demo.py: generated from a notebook that no longer exports it" in problems


def test_a_test_defined_twice_is_refused(project: Path) -> None:
    """Two cells defining one name would silently lose a test in a module: export says so instead."""
    edit(project, 5, "%%ipytest\ndef test_double():\n    assert True")
    with pytest.raises(sync.SyncError, match="test_double is defined twice"):
        sync.export(project)
