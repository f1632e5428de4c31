"""The fault catalogues (notebooks/faults/*.toml) and `make faults`' judge: every fault still applies to
its module exactly once and changes it into code that compiles, every recipe has a catalogue of at
least 15, and a failure that only a generic bound produced is not counted as a catch."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import faults  # noqa: E402  (tools/ is not a package)

EXPORTED = sorted(
    path.stem for path in (ROOT / "src/async_cookbook").glob("*.py") if path.stem not in {"__init__", "notebook"}
)


def test_every_recipe_module_has_a_catalogue() -> None:
    assert EXPORTED == faults.modules()


@pytest.mark.parametrize("module", EXPORTED)
def test_each_fault_applies_once_and_compiles(module: str) -> None:
    source = (ROOT / "src/async_cookbook" / f"{module}.py").read_text()
    catalogue = faults.catalogue(module)
    assert len(catalogue) >= 15, f"{module}: {len(catalogue)} faults"
    for fault in catalogue:
        changed = fault.apply(source)
        assert changed != source
        compile(changed, f"{module}.py with {fault.name}", "exec")


def test_a_stale_fault_is_refused_by_name() -> None:
    fault = faults.Fault("retry", "gone", "edges", "a fault whose code moved", "no such text", "x")
    with pytest.raises(faults.CatalogueError, match=r"retry/gone: `find` occurs 0 times in the module, not once"):
        fault.apply("def f(): pass\n")


def junit(*cases: str) -> str:
    return f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>"


def failed(name: str, message: str) -> str:
    return f'<testcase name="{name}"><failure message="{message}"/></testcase>'


TIMED_OUT = failed("test_a", "AsyncTestTimeout: test_a did not finish within its 5 s timeout")
BACKSTOP = failed("test_b", "Failed: Timeout &gt;120.0s")  # pytest-timeout's backstop
BY_NAME = failed("test_c", "AssertionError: no reply within 2 s")
PASSED = '<testcase name="test_d"/>'


def test_only_a_failure_of_its_own_counts_as_caught() -> None:
    assert ("missed", ()) == faults.classify(junit(PASSED))
    assert ("bound", ("test_a", "test_b")) == faults.classify(junit(TIMED_OUT, BACKSTOP, PASSED))
    assert ("caught", ("test_c",)) == faults.classify(junit(TIMED_OUT, BY_NAME))


def test_a_run_ended_by_the_backstop_is_a_bound_and_one_that_cannot_start_is_a_catch() -> None:
    """pytest-timeout's thread method ends the process before any report is written."""
    banner = "+++++++++++++++++++++++++++++++++++ Timeout ++++++++++++++++++++++++++++++++++++\nStack of MainThread"
    assert ("bound", ("(pytest-timeout's backstop ended the run)",)) == faults.unreported(banner, 1)
    assert ("caught", ("(the suite could not run: exit 4)",)) == faults.unreported("ImportError while loading", 4)
