"""Sphinx configuration of the cookbook's website (`make site`; tools/site.py stages the sources).

Sphinx with MyST-NB and sphinx-book-theme, all from PyPI: the theme ships its assets in its wheel, so
the build needs no network. MyST-NB executes every notebook once per build, and a cell that raises
fails the build, as does any warning (an internal link that points nowhere, say).
"""

REPOSITORY = "https://github.com/async-testing-cookbook/async-cookbook"

project = "Async Testing Cookbook"
author = "The Async Testing Cookbook authors"
extensions = ["myst_nb", "sphinx_copybutton"]
root_doc = "index"
exclude_patterns = ["**/.ipynb_checkpoints"]

# Execute each notebook in this build, in its own folder. A cell that fails is reported as a warning with
# its traceback (raising instead would crash Sphinx with a bare "ExecutionError" and no cell named), and
# `make site` runs Sphinx with -W, so the warning fails the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = False
nb_execution_show_tb = True
nb_execution_timeout = 300  # seconds a cell may take, as nbval allows in `make test`
nb_merge_streams = True  # a cell's stdout as one block, as JupyterLab shows it
# A cell that fails on purpose shows pytest's report, whose diff lines the IPython traceback lexer cannot
# read (Sphinx would warn, and -W fails the build): render it as terminal text, colours included.
nb_render_error_lexer = "myst-ansi"

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    # a "launch" button on every notebook page: that notebook, in JupyterLab, on Binder
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
}
html_static_path = ["_static"]
html_css_files = ["cookbook.css"]  # code wraps instead of being cut off; tables keep the promise readable
html_favicon = "favicon.svg"  # without one, every browser asks for /favicon.ico and logs a 404
html_context = {"default_mode": "auto"}  # light or dark as the reader's system says, with no console error
