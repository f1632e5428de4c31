"""`make mutation`: run mutmut over src/async_cookbook, print the score of each module, and write them
to mutation-results.json (the capstone notebook plots them).

mutmut's own cache can keep verdicts from before the tests changed, so every run starts from a
clean `mutants/` folder. Configuration: [tool.mutmut] in pyproject.toml. The results file records a
hash of each module's source: tests/test_scoreboard.py fails when a module has changed since.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "mutation-results.json"
MUTMUT = [sys.executable, "-m", "mutmut"]
KILLED = {"killed", "timeout", "segfault"}  # a timeout or a crash also means the tests noticed


def source_hash(module: str, root: Path = ROOT) -> str:
    """sha256 of a module's source, e.g. async_cookbook.pool -> src/async_cookbook/pool.py."""
    return hashlib.sha256((root / "src" / f"{module.replace('.', '/')}.py").read_bytes()).hexdigest()


def results(root: Path = ROOT) -> dict[str, str]:
    """mutant name -> status, from `mutmut results --all true` run in `root`."""
    out = subprocess.run(
        [*MUTMUT, "results", "--all", "true"], cwd=root, capture_output=True, text=True, check=True, timeout=300
    )
    statuses = {}
    for line in out.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status
    return statuses


def changed_lines(mutant: str, root: Path = ROOT) -> str:
    """What a mutant changes, from `mutmut show`: the removed line, then the added one."""
    shown = subprocess.run([*MUTMUT, "show", mutant], cwd=root, capture_output=True, text=True, timeout=120)
    lines = [line for line in shown.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    return "  →  ".join(line[1:].strip() for line in lines)


def module_of(mutant: str) -> str:
    """async_cookbook.retry.x_retry__mutmut_3 -> async_cookbook.retry"""
    return mutant.rsplit(".", 1)[0]


def main() -> int:
    # `python tools/mutation.py chat pool`: only those modules; the other modules' results are kept.
    only = [f"async_cookbook.{name}" for name in sys.argv[1:]]
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    started = time.perf_counter()
    # Bounded: mutmut gives each mutant its own timeout, and this is the backstop for mutmut itself.
    names = [f"{module}.*" for module in only]
    run = subprocess.run([*MUTMUT, "run", *names], cwd=ROOT, capture_output=True, text=True, timeout=3 * 3600)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        return run.returncode
    elapsed = time.perf_counter() - started
    by_module: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for mutant, status in results().items():
        if not only or module_of(mutant) in only:
            by_module[module_of(mutant)][status].append(mutant)
    if not by_module:
        print("mutmut produced no mutants: is [tool.mutmut] source_paths right?")
        return 1
    worst = 100.0
    kept = json.loads(RESULTS.read_text())["modules"] if only and RESULTS.exists() else {}
    scores = {module: score for module, score in kept.items() if module not in only}
    print(f"mutation testing of src/async_cookbook with tests/generated, {elapsed:.0f} s\n")
    print(f"{'module':32} {'killed':>7} {'total':>6} {'score':>7}")
    for module, statuses in sorted(by_module.items()):
        total = sum(len(names) for names in statuses.values())
        killed = sum(len(statuses[status]) for status in KILLED)
        score = 100 * killed / total
        worst = min(worst, score)
        print(f"{module:32} {killed:>7} {total:>6} {score:>6.1f}%")
        survivors = sorted(name for status, names in statuses.items() if status not in KILLED for name in names)
        scores[module] = {"killed": killed, "total": total, "survivors": survivors}
        scores[module]["source_sha256"] = source_hash(module)
    measured = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    scores = dict(sorted(scores.items()))
    RESULTS.write_text(json.dumps({"measured": measured, "modules": scores}, indent=1) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    for module, statuses in sorted(by_module.items()):
        for status, names in sorted(statuses.items()):
            if status in KILLED:
                continue
            print(f"\n{module}: {len(names)} {status}")
            for name in sorted(names):
                print(f"  {name}\n      {changed_lines(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
