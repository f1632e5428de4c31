import sys

import pytest

# tests/data holds inputs for the tests (a notebook that fails on purpose), not tests to collect.
collect_ignore_glob = ["data/*"]


@pytest.fixture(scope="session")
def isolated_pytest() -> list[str]:
    """The command for a pytest run in a subprocess, without the plugins only the outer run needs (nbval
    alone costs a second of start-up, Hypothesis most of another, and no such run uses it), and in the order
    its tests are written."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-p",
        "no:nbval",
        "-p",
        "no:randomly",
        "-p",
        "no:hypothesispytest",
    ]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say what ran: how many notebooks nbval executed (and their cells), and how many tests in tests/."""
    calls = [
        report
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
    ]
    cells = [report for report in calls if report.nodeid.split("::")[0].endswith(".ipynb")]
    tests = [report for report in calls if report not in cells]
    notebooks = {report.nodeid.split("::")[0] for report in cells}
    modules = {report.nodeid.split("::")[0] for report in tests}
    terminalreporter.write_sep("-", "what ran")
    terminalreporter.write_line(f"notebooks executed by nbval: {len(notebooks)} ({len(cells)} code cells)")
    terminalreporter.write_line(f"tests in tests/: {len(tests)} in {len(modules)} files")


# Where the time goes in `make test` (its --durations table): these files take longest, the browser suite most of
# all. Under xdist they start first, each on a worker of its own, and the rest fill the gaps (the longest-first
# rule of scheduling): xdist gives a worker its next file only when it has at most two tests left to run. The
# order of the tests inside each file stays pytest-randomly's.
LONGEST_FIRST = [
    "tests/test_browser.py",
    "tests/test_notebooks.py",
    "tests/test_postgres_fixtures.py",
    "notebooks/07_test_your_tests.ipynb",
    "tests/test_nothing_survives.py",
    "tests/test_plugin.py",
]


def scheduled(files: list[str]) -> list[str]:
    """`files` with those in LONGEST_FIRST at the front, in that order; the others as they were given."""
    return [name for name in LONGEST_FIRST if name in files] + [name for name in files if name not in LONGEST_FIRST]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist's workers only (the controller schedules by their collection order); pytest-randomly has
    shuffled before this runs."""
    if not hasattr(config, "workerinput"):
        return
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    items[:] = [item for name in scheduled(list(by_file)) for item in by_file[name]]
