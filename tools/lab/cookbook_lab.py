"""A Jupyter server extension for `make lab` (tools/lab/jupyter_server_config.py turns it on).

Git stores notebooks without outputs (the clean filter in .gitattributes), but a saved notebook with
outputs has another size than the one git holds, and git then lists it as modified without looking at
its content, although `git diff` shows nothing. After each save, the hook below checks the notebook's
committed form against what git holds; when they are the same, it lets git record the file again (no
change is staged: the content git holds stays as it was), so `git status` shows it unchanged. A notebook
whose code or text was edited is left alone.
"""

import subprocess
from pathlib import Path

from notebooks import cleaned  # tools/, put on the path by the configuration file


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


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "cookbook_lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    # Registered, not assigned to `post_save_hook`: assigning warns when the configuration is applied twice.
    serverapp.contents_manager.register_post_save_hook(refresh_git_index)
