"""`make site`: the cookbook as a static website in _build/html/, index page at its root.

The sources are staged in _build/source/: the notebooks as they are, and site/index.md as the landing
page, written for readers, with the README's table of notebooks in it and a table of contents in the
notebooks' order. Links in that table to files that are not pages point at the repository instead.
Then Sphinx builds (configuration: site/conf.py), executing every notebook once; a failing cell or any
warning fails the build.

With `--executed`, the notebooks given already hold their outputs (JupyterLab saved them after Run All,
as the browser suite does): they are rendered as they are, not executed again, and the build is refused
when one of them holds an error or a code cell that never ran.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
sys.path.insert(0, str(ROOT / "site"))
from conf import REPOSITORY  # noqa: E402  (site/ is not a package)

LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")


def notebooks_table(readme: str) -> str:
    """The README's table of notebooks (one source for what each teaches and how long it takes)."""
    section = readme.split("## Notebooks", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.strip().splitlines() if line.startswith("|"))


def landing_page(page: str, readme: str, notebooks: list[str]) -> str:
    """site/index.md with the README's table of notebooks in place of `{notebooks}`, links to files other
    than the notebooks pointed at the repository, and a table of contents (hidden: the table is the
    visible one) in the notebooks' order."""

    def relink(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith("notebooks/") and target.endswith(".ipynb"):
            return match.group(0)
        return f"]({REPOSITORY}/blob/main/{target})"

    toc = "\n".join(f"notebooks/{Path(name).stem}" for name in notebooks)
    page = page.replace("{notebooks}", LINK.sub(relink, notebooks_table(readme)))
    return page + f"\n```{{toctree}}\n:hidden:\n:caption: Notebooks\n\n{toc}\n```\n"


def stage(source: Path, notebooks: list[Path]) -> None:
    shutil.rmtree(source, ignore_errors=True)
    (source / "notebooks").mkdir(parents=True)
    for notebook in notebooks:
        shutil.copy(notebook, source / "notebooks" / notebook.name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "site" / "index.md").read_text(encoding="utf-8")
    names = [path.name for path in notebooks]
    (source / "index.md").write_text(landing_page(page, readme, names), encoding="utf-8")


def quiet_kernels(profiles: Path) -> dict[str, str]:
    """The build's environment, with an IPython profile whose kernels log errors only: ipykernel 7 warns
    at every start that its local TCP sockets are not encrypted, which says nothing about the notebook."""
    (profiles / "profile_default").mkdir(parents=True)
    (profiles / "profile_default" / "ipython_kernel_config.py").write_text('c.IPKernelApp.log_level = "ERROR"\n')
    return {**os.environ, "IPYTHONDIR": str(profiles)}


def unexecuted(notebook: Path) -> list[str]:
    """What keeps a notebook from being rendered as it is: code cells that never ran, cells with an error
    that were not meant to fail."""
    problems = []
    for number, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        if cell.get("execution_count") is None:
            problems.append(f"{notebook.name}: cell {number} never ran")
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue  # fails on purpose: nbval and MyST-NB's execution allow it too
        problems += [
            f"{notebook.name}: cell {number}: {output['ename']}: {output['evalue']}"
            for output in cell.get("outputs", [])
            if output["output_type"] == "error"
        ]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=BUILD, help="where source/ and html/ go (default: _build)")
    parser.add_argument("--notebook", type=Path, action="append", help="build these instead of notebooks/*")
    parser.add_argument("--executed", action="store_true", help="render the notebooks' saved outputs, no execution")
    options = parser.parse_args()
    notebooks = options.notebook or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if options.executed and (problems := [problem for notebook in notebooks for problem in unexecuted(notebook)]):
        print(
            "site: not rendered as they are, since not every cell ran cleanly:", *problems, sep="\n  ", file=sys.stderr
        )
        return 1
    source, html = options.build / "source", options.build / "html"
    started = time.perf_counter()
    stage(source, notebooks)
    shutil.rmtree(html, ignore_errors=True)
    # Sphinx says which page it reads, and MyST-NB which notebook it executes and in how long.
    build = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(ROOT / "site"), "-W", "--keep-going"]
    if options.executed:
        build += ["-D", "nb_execution_mode=off"]
    with tempfile.TemporaryDirectory(prefix="site-ipython-") as profiles:
        done = subprocess.run(
            [*build, str(source), str(html)], cwd=ROOT, env=quiet_kernels(Path(profiles)), timeout=1800
        )
    if done.returncode != 0:
        print(f"site: the build failed (exit {done.returncode}); see the messages above", file=sys.stderr)
        return done.returncode
    size = sum(path.stat().st_size for path in html.rglob("*") if path.is_file())
    pages = len(list(html.rglob("*.html")))
    print(f"site: {pages} pages, {size / 1e6:.1f} MB in {html}, built in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
