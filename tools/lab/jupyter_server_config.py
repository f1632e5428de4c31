"""JupyterLab's server settings for `make lab` (passed with --config).

Git stores notebooks without outputs (the clean filter in .gitattributes), but a saved notebook with
outputs has another size than the one git holds, and git then lists it as modified without looking at
its content, although `git diff` shows nothing. After each save, the hook below checks the notebook's
committed form against what git holds; when they are the same, it lets git record the file again (no
change is staged: the content git holds stays as it was), so `git status` shows it unchanged. A notebook
whose code or text was edited is left alone.
"""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/, for notebooks.cleaned
from notebooks import cleaned


def refresh_git_index(model: dict, os_path: str, contents_manager: object, **kwargs: object) -> None:
    if model.get("type") != "notebook":
        return
    path = Path(os_path)
    try:
        held = subprocess.run(
            ["git", "show", f":./{path.name}"], cwd=path.parent, capture_output=True, text=True, timeout=30
        )
        if held.returncode == 0 and held.stdout == cleaned(path.read_text(encoding="utf-8")):
            subprocess.run(["git", "add", "--", path.name], cwd=path.parent, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass  # outside a git clone, or git missing: a save must never fail because of this


c = get_config()  # noqa: F821  (given by Jupyter to the config file it loads)
c.FileContentsManager.post_save_hook = refresh_git_index
