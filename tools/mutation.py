"""`make mutation`: run mutmut over src/async_cookbook and print the score of each module.

mutmut's own cache can keep verdicts from before the tests changed, so every run starts from a
clean `mutants/` folder. Configuration: [tool.mutmut] in pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]
KILLED = {"killed", "timeout", "segfault"}  # a timeout or a crash also means the tests noticed


def results() -> dict[str, str]:
    """mutant name -> status, from `mutmut results --all true`."""
    out = subprocess.run(
        [*MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    statuses = {}
    for line in out.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status
    return statuses


def module_of(mutant: str) -> str:
    """async_cookbook.retry.x_retry__mutmut_3 -> async_cookbook.retry"""
    return mutant.rsplit(".", 1)[0]


def main() -> int:
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    started = time.perf_counter()
    # Bounded: mutmut gives each mutant its own timeout, and this is the backstop for mutmut itself.
    run = subprocess.run([*MUTMUT, "run"], cwd=ROOT, capture_output=True, text=True, timeout=3 * 3600)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        return run.returncode
    elapsed = time.perf_counter() - started
    by_module: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for mutant, status in results().items():
        by_module[module_of(mutant)][status].append(mutant)
    if not by_module:
        print("mutmut produced no mutants: is [tool.mutmut] source_paths right?")
        return 1
    worst = 100.0
    print(f"mutation testing of src/async_cookbook with tests/generated, {elapsed:.0f} s\n")
    print(f"{'module':32} {'killed':>7} {'total':>6} {'score':>7}")
    for module, statuses in sorted(by_module.items()):
        total = sum(len(names) for names in statuses.values())
        killed = sum(len(statuses[status]) for status in KILLED)
        score = 100 * killed / total
        worst = min(worst, score)
        print(f"{module:32} {killed:>7} {total:>6} {score:>6.1f}%")
    for module, statuses in sorted(by_module.items()):
        for status, names in sorted(statuses.items()):
            if status in KILLED:
                continue
            print(f"\n{module}: {len(names)} {status}")
            for name in sorted(names):
                diff = subprocess.run([*MUTMUT, "show", name], cwd=ROOT, capture_output=True, text=True, timeout=120)
                diff = diff.stdout
                changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
                print(f"  {name}")
                print("\n".join(f"      {line.strip()}" for line in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
