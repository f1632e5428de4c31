"""Dependencies live once, in pyproject.toml; the conda and Binder environments install from it."""

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("path", "project_dir", "extra"), [("environment.yml", ".", "dev"), ("binder/environment.yml", "..", "lab")]
)
def test_environment_installs_the_project_and_nothing_else(path: str, project_dir: str, extra: str) -> None:
    """Each environment file holds Python, pip and `-e <project>[extra]`: no second dependency list.
    Binder gets the reader's install, as `make lab` does; conda users the contributor's."""
    env = yaml.safe_load((ROOT / path).read_text())
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    pip = [dep for dep in env["dependencies"] if isinstance(dep, dict)]
    assert {"pip"} | {dep for dep in conda if dep.startswith("python")} == set(conda)
    assert [{"pip": [f"-e {project_dir}[{extra}]"]}] == pip
    assert (ROOT / path).parent.joinpath(project_dir).resolve() == ROOT


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_environment_python_satisfies_requires_python(path: str) -> None:
    env = yaml.safe_load((ROOT / path).read_text())
    (python,) = [dep for dep in env["dependencies"] if isinstance(dep, str) and dep.startswith("python")]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.split("=")[1] in SpecifierSet(requires)
