"""`make plugin-check`: the cookbook's pytest plugin on test suites nobody here wrote.

Downloads pinned source releases of small asyncio libraries from PyPI, and runs each one's own suite
three times with this project's environment:

- without the plugin (``-p no:async_cookbook``);
- with the plugin installed and nothing configured: the outcomes must be the same as without;
- with both checks turned on (``async_test_timeout``, ``async_leak_check``).

Then prints one table: tests, the outcome of each run, and every report the plugin made. Each report is
then for a person to examine: a real leak or hang in that library, or a false positive of the plugin.
Outcomes are read from JUnit XML, not from pytest's terminal output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "plugin-check"

# (project on PyPI, pinned version, arguments for its suite). Pinned, so that a result can be replayed.
LIBRARIES = [
    ("janus", "2.0.0", ["--ignore=tests/test_benchmarks.py"]),  # that file needs pytest-benchmark
    # its config leaves this unset, which pytest-asyncio 1.x warns about, and its config makes warnings errors
    ("async-lru", "2.4.0", ["-o", "asyncio_default_fixture_loop_scope=function"]),
    # test_version compares the package's version with `git describe` of the current folder, this repository's
    ("aiolimiter", "1.3.0", ["--deselect", "tests/test_aiolimiter.py::test_version"]),
    ("aiostream", "0.8.1", []),  # runs its tests on a loop of its own whose clock is virtual
]
COMMON = [
    # plugins of this environment that the libraries' own environments lack: looptime, for one, makes an
    # event loop for every sync test that nobody closes, which fails suites that turn warnings into errors
    "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:nbval",
    "-p", "no:looptime_plugin", "-p", "no:looptime_chronometers", "-p", "no:looptime_timeproxies",
    "-o", "addopts=",  # their addopts ask for pytest-cov and the like, which this environment lacks
    "-o", "junit_family=xunit2",
]  # fmt: skip
RUNS = {
    "without": ["-p", "no:async_cookbook"],
    "installed": [],
    "turned on": ["-o", "async_test_timeout=5", "-o", "async_leak_check=true"],
}
REPORTS = ("AsyncTestTimeout", "LeakedTasksError")
# Run first, the same way: a suite whose one test leaks a task. If the plugin does not report it when
# turned on, the options are not reaching the suites, and no line of the table means anything.
CANARY = """
import asyncio


async def test_leaks_a_task():
    asyncio.get_running_loop().create_task(asyncio.sleep(10))
"""


def source(project: str, version: str) -> Path:
    """The unpacked source release, downloaded once into .cache/plugin-check/."""
    folder = CACHE / f"{project.replace('-', '_')}-{version}"
    if folder.is_dir():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         f"{project}=={version}", "--dest", str(CACHE)],
        check=True, timeout=300,
    )  # fmt: skip
    (archive,) = [path for path in CACHE.glob("*.tar.gz") if path.name.lower().startswith(folder.name.lower())]
    with tarfile.open(archive) as sdist:
        sdist.extractall(CACHE, filter="data")
    # installed beside the source, not into this environment: some read their own version from the metadata
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(folder / "_installed"),
         str(archive)],
        check=True, timeout=600,
    )  # fmt: skip
    return folder


def outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """test id -> (outcome, message) from a JUnit XML report; a test with an error at teardown after
    passing counts as an error, as pytest's summary does."""
    results: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kind, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = (child.get("message") or "") + "\n" + (child.text or "")
        if results.get(name, ("passed", ""))[0] == "passed":
            results[name] = (kind, message)
    return results


def run_suite(folder: Path, arguments: list[str], options: list[str], junit: Path) -> dict[str, tuple[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(folder / "_installed")}
    command = [sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}", *COMMON, *options, *arguments]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    if not junit.exists():
        raise RuntimeError(f"{folder.name}: the suite did not run:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return outcomes(junit)


def summary(results: dict[str, tuple[str, str]]) -> str:
    counts = Counter(kind for kind, _ in results.values())
    return ", ".join(f"{counts[kind]} {kind}" for kind in ("passed", "failed", "error", "skipped") if counts[kind])


def canary() -> Path:
    folder = CACHE / "canary"
    (folder / "_installed").mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    (folder / "test_canary.py").write_text(CANARY)
    return folder


def main() -> int:
    rows, findings, problems = [], [], []
    for project, version, arguments in [("canary", "", []), *LIBRARIES]:
        folder = canary() if project == "canary" else source(project, version)
        results = {}
        for name, options in RUNS.items():
            junit = CACHE / f"{folder.name}-{name.replace(' ', '-')}.xml"
            junit.unlink(missing_ok=True)
            results[name] = run_suite(folder, arguments, options, junit)
        if {test: kind for test, (kind, _) in results["installed"].items()} != {
            test: kind for test, (kind, _) in results["without"].items()
        }:
            problems.append(f"{project}: installing the plugin changed outcomes")
        reports = {
            test: next(line.strip() for line in message.splitlines() if any(word in line for word in REPORTS))
            for test, (kind, message) in results["turned on"].items()
            if kind != "passed" and any(word in message for word in REPORTS)
        }
        if project == "canary":
            if ["test_canary::test_leaks_a_task"] != list(reports):
                problems.append(f"the canary's leak was not reported when the checks were on: {reports}")
            continue
        findings += [(f"{project} {version}", test, report) for test, report in sorted(reports.items())]
        rows.append(
            (f"{project} {version}", len(results["without"]), *(summary(results[name]) for name in RUNS), len(reports))
        )

    header = ("library", "tests", "without the plugin", "installed, not configured", "turned on", "reports")
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")
    print()
    for library, test, report in findings:
        print(f"- {library}: `{test}`: {report}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
