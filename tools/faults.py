"""`make faults`: inject each realistic fault of a recipe's catalogue into a copy of its module, run that
recipe's tests against the copy, and say which test caught it.

The catalogues are `notebooks/faults/<module>.toml`, one `[[fault]]` table per fault:

    [[fault]]
    name = "refund-forgets-idempotency-key"   # unique within the file
    kind = "payload"                           # a question of the primer's checklist (KINDS below)
    what = "The refund is sent without the order's idempotency key."
    find = '''idempotency_key=key'''            # occurs exactly once in src/async_cookbook/<module>.py
    replace = '''idempotency_key=None'''

A fault counts as caught only when a test fails for a reason of its own. A test that fails only because
a generic bound ended it (the plugin's per-test timeout, or pytest-timeout's backstop) does not count:
such a fault is reported as "caught only by a bound". The tool exits non-zero unless every fault is caught.

    python tools/faults.py                 # every catalogue
    python tools/faults.py chat pool       # some modules
    python tools/faults.py chat --fault slow-reader-never-dropped   # one fault, with the failing output
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from async_cookbook.testing.processes import spawn

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "notebooks" / "faults"
PACKAGE = Path("src/async_cookbook")

# The checklist the primer teaches: each fault names the question whose missing test would let it through.
KINDS = {
    "payload": "what a collaborator receives, in full",
    "supply": "every option with every way a resource is supplied",
    "exits": "every way out of a context manager or call: errors propagate, resources close",
    "state": "state across instances and across calls",
    "transition": "windows while opening or closing",
    "timeout-span": "which steps a timeout covers",
    "errors": "errors neither widened nor narrowed",
    "peer": "what the other side sends",
    "quiet": "when nothing happens, nothing happens",
    "fail-fast": "a lost wake-up fails fast and by name",
    "concurrency": "concurrent calls and interleavings",
    "cancellation": "cancellation at every await",
    "edges": "the edges of each input's domain",
    "secrets": "secrets stay out of messages, logs and reprs",
    "clock": "the clock: real and virtual time, deadlines",
}
# Failures that only say "a generic bound ran out": they catch hangs, not the fault itself.
BOUND_MARKERS = ("AsyncTestTimeout", "did not finish within its", "did not finish its", "Failed: Timeout >")
# Generous: a caught fault usually fails in seconds; this ends a run whose backstop itself misbehaves.
RUN_LIMIT = 600


class CatalogueError(Exception):
    """A catalogue entry that cannot be applied: unknown kind, missing key, or `find` not exactly once."""


@dataclass(frozen=True)
class Fault:
    module: str
    name: str
    kind: str
    what: str
    find: str
    replace: str

    def apply(self, source: str) -> str:
        found = source.count(self.find)
        if found != 1:
            raise CatalogueError(f"{self.module}/{self.name}: `find` occurs {found} times in the module, not once")
        return source.replace(self.find, self.replace)


def catalogue(module: str) -> list[Fault]:
    path = CATALOGUES / f"{module}.toml"
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("fault", [])
    faults, names = [], set()
    for number, entry in enumerate(entries, start=1):
        missing = {"name", "kind", "what", "find", "replace"} - entry.keys()
        if missing:
            raise CatalogueError(f"{path.name}: fault {number} lacks {', '.join(sorted(missing))}")
        if entry["kind"] not in KINDS:
            raise CatalogueError(f"{path.name}: {entry['name']}: unknown kind {entry['kind']!r}")
        if entry["name"] in names:
            raise CatalogueError(f"{path.name}: two faults are named {entry['name']!r}")
        if entry["find"] == entry["replace"]:
            raise CatalogueError(f"{path.name}: {entry['name']}: `replace` is the same as `find`")
        names.add(entry["name"])
        faults.append(Fault(module, entry["name"], entry["kind"], entry["what"], entry["find"], entry["replace"]))
    return faults


def modules() -> list[str]:
    return sorted(path.stem for path in CATALOGUES.glob("*.toml"))


@dataclass(frozen=True)
class Verdict:
    fault: Fault
    outcome: str  # "caught", "bound" (caught only by a generic bound) or "missed"
    tests: tuple[str, ...]  # the tests that caught it (or, for "bound", the ones that timed out)
    seconds: float
    output: str

    def line(self) -> str:
        label = {"caught": "caught", "bound": "caught only by a bound", "missed": "MISSED"}[self.outcome]
        by = (
            f" by {self.tests[0]}" + (f" (+{len(self.tests) - 1})" if len(self.tests) > 1 else "") if self.tests else ""
        )
        return f"{self.fault.module:8} {self.fault.name:44} {label}{by}  [{self.seconds:.0f} s]"


def classify(junit: str) -> tuple[str, tuple[str, ...]]:
    """From a JUnit XML report: ("caught", tests), ("bound", tests) or ("missed", ())."""
    caught, bound = [], []
    for case in ElementTree.fromstring(junit).iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            text = (problem.get("message") or "") + (problem.text or "")
            (bound if any(marker in text for marker in BOUND_MARKERS) else caught).append(case.get("name", "?"))
    if caught:
        return "caught", tuple(dict.fromkeys(caught))
    if bound:
        return "bound", tuple(dict.fromkeys(bound))
    return "missed", ()


def unreported(output: str, returncode: int) -> tuple[str, tuple[str, ...]]:
    """A run that wrote no report. pytest-timeout's backstop ends the process (os._exit) after printing
    its banner: a bound, not a catch. Otherwise the suite could not start with the fault in (the module
    no longer imports, say): a catch, as a crash is for mutation testing."""
    if "+ Timeout +" in output:
        return "bound", ("(pytest-timeout's backstop ended the run)",)
    return "caught", (f"(the suite could not run: exit {returncode})",)


class Trial:
    """One fault applied to a scratch copy of the package, and the module's generated suite running on it."""

    def __init__(self, fault: Fault, root: Path = ROOT) -> None:
        self.fault, self.started = fault, time.perf_counter()
        self.scratch = Path(tempfile.mkdtemp(prefix=f"fault-{fault.module}-"))
        copy = self.scratch / "src"
        shutil.copytree(root / PACKAGE.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
        target = copy / "async_cookbook" / f"{fault.module}.py"
        target.write_text(fault.apply(target.read_text(encoding="utf-8")), encoding="utf-8")
        self.report = self.scratch / "report.xml"
        # The copy comes first on the path, before the editable install of the real package.
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        # Every test runs (no -x): a fault that one test meets only as a timeout may fail another by name.
        command = [
            sys.executable, "-m", "pytest", str(root / "tests/generated" / f"test_{fault.module}.py"),
            "-p", "no:randomly", "-p", "no:xdist", "-p", "no:nbval", "-p", "no:cacheprovider",
            "-q", "--no-header", "--junitxml", str(self.report), "--override-ini=junit_family=xunit1",
        ]  # fmt: skip
        self.process = spawn(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def verdict(self) -> Verdict:
        """Wait for the suite (at most RUN_LIMIT seconds), judge it, and remove the scratch copy."""
        try:
            try:
                output, _ = self.process.communicate(timeout=RUN_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                output, _ = self.process.communicate(timeout=30)
                return self._judged("bound", ("(the whole run)",), f"no end within {RUN_LIMIT} s\n{output}")
            if not self.report.exists():
                return self._judged(*unreported(output, self.process.returncode), output)
            return self._judged(*classify(self.report.read_text(encoding="utf-8")), output)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _judged(self, outcome: str, tests: tuple[str, ...], output: str) -> Verdict:
        return Verdict(self.fault, outcome, tests, time.perf_counter() - self.started, output)


def run_faults(faults: list[Fault], jobs: int) -> Iterator[Verdict]:
    """Verdicts in catalogue order, with up to `jobs` suites running side by side."""
    waiting, running = list(faults), []
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                running.append(Trial(waiting.pop(0)))
            yield running.pop(0).verdict()
    finally:  # Ctrl-C or an error: no suite and no scratch copy outlives the tool
        for trial in running:
            trial.process.kill()
            trial.process.wait(timeout=30)
            shutil.rmtree(trial.scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", nargs="*", help="modules whose catalogues to run (default: all)")
    parser.add_argument("--fault", help="run only the fault of this name, and print the suite's output")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="faults run side by side (default: 2)")
    options = parser.parse_args()
    chosen = options.module or modules()
    faults = [fault for module in chosen for fault in catalogue(module)]
    if options.fault:
        faults = [fault for fault in faults if fault.name == options.fault]
        if not faults:
            parser.error(f"no fault named {options.fault!r} in {', '.join(chosen)}")
    for fault in faults:  # refuse a stale catalogue before spending any run
        fault.apply((ROOT / PACKAGE / f"{fault.module}.py").read_text(encoding="utf-8"))
    started = time.perf_counter()
    print(f"faults: {len(faults)} from {', '.join(chosen)}, {options.jobs} at a time", flush=True)
    verdicts = []
    for verdict in run_faults(faults, max(1, options.jobs)):
        verdicts.append(verdict)
        print(verdict.line(), flush=True)
        if options.fault:
            print(verdict.output)
    caught = sum(verdict.outcome == "caught" for verdict in verdicts)
    for module in chosen:
        mine = [verdict for verdict in verdicts if verdict.fault.module == module]
        print(f"  {module}: caught {sum(v.outcome == 'caught' for v in mine)}/{len(mine)}")
    print(f"{time.perf_counter() - started:.0f} s")
    print(f"caught {caught}/{len(verdicts)}")
    return 0 if caught == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
