"""JupyterLab's server settings for `make lab` (passed with --config).

- The save hook of tools/lab/cookbook_lab.py keeps `git status` clean when a notebook is saved with outputs.
- ipytest writes each cell's tests to a scratch module `t_<hash>.py` next to the notebook while they
  run: the file browser does not show them.
- The workspace (open tabs, layout) belongs to this checkout, in `.jupyter/workspaces/`; `make lab`
  seeds it with the primer open, so `/lab` opens it as `/` does.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # cookbook_lab, and tools/ for notebooks.cleaned

c = get_config()  # noqa: F821  (given by Jupyter to the config file it loads)
c.ServerApp.jpserver_extensions = {"cookbook_lab": True}
c.ContentsManager.hide_globs = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", "t_*.py"]
c.LabApp.workspaces_dir = str(HERE.parent.parent / ".jupyter" / "workspaces")
