import sys

import pytest

# tests/data holds inputs for the tests (a notebook that fails on purpose), not tests to collect.
collect_ignore_glob = ["data/*"]


@pytest.fixture(scope="session")
def isolated_pytest() -> list[str]:
    """The command for a pytest run in a subprocess, without the plugins only the outer run needs
    (nbval alone costs a second of start-up)."""
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:nbval"]
