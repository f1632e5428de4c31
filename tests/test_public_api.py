"""Each module's __all__ names exactly what it defines for others to use, and each of those says what it does."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import async_cookbook

PACKAGE = Path(async_cookbook.__file__).parent
MODULES = [
    "async_cookbook.testing",  # a package: its __init__ is the plugin
    *sorted(
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and not path.name.startswith("_")
    ),
]


def public_definitions(module) -> set[str]:
    """Top-level names the module's own source defines (not imports), without a leading underscore."""
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_the_public_definitions(name):
    module = importlib.import_module(name)
    fixtures = {n for n, value in vars(module).items() if hasattr(value, "_fixture_function_marker") or
                type(value).__name__ == "FixtureFunctionDefinition"}  # fmt: skip
    plugin_hooks = {n for n in vars(module) if n.startswith("pytest_")}
    assert public_definitions(module) - fixtures - plugin_hooks == set(module.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_class_and_function_has_a_docstring(name):
    module = importlib.import_module(name)
    undocumented = [
        exported
        for exported in module.__all__
        if (inspect.isclass(getattr(module, exported)) or inspect.isfunction(getattr(module, exported)))
        and not inspect.getdoc(getattr(module, exported))
    ]
    assert [] == undocumented
