import sys

import pytest

# tests/data holds inputs for the tests (a notebook that fails on purpose), not tests to collect.
collect_ignore_glob = ["data/*"]


@pytest.fixture(scope="session")
def isolated_pytest() -> list[str]:
    """The command for a pytest run in a subprocess, without the plugins only the outer run needs
    (nbval alone costs a second of start-up), and in the order its tests are written."""
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
