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


def workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github/workflows" / name).read_text())


def test_ci_tests_every_supported_python_and_the_site_and_binder_use_one_of_them() -> None:
    (job,) = workflow("test.yml")["jobs"].values()
    tested = job["strategy"]["matrix"]["python"]
    assert ["3.11", "3.12", "3.13"] == tested
    requires = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    assert all(version in requires for version in tested)
    assert "./.ci/run" in [step.get("run") for step in job["steps"]]  # the same command as everywhere else
    site = workflow("site.yml")["jobs"]["build"]["steps"]
    (site_python,) = [step["with"]["python-version"] for step in site if "setup-python" in step.get("uses", "")]
    binder = yaml.safe_load((ROOT / "binder/environment.yml").read_text())["dependencies"]
    (binder_python,) = [dep.split("=")[1] for dep in binder if isinstance(dep, str) and dep.startswith("python")]
    assert {site_python, binder_python} <= set(tested)


def test_releases_are_built_checked_and_published_by_trusted_publishing() -> None:
    release = workflow("release.yml")
    assert ["v*"] == release[True]["push"]["tags"]  # yaml reads the key `on` as True
    build = [step.get("run", "") for step in release["jobs"]["build"]["steps"]]
    assert "python -m build" in build
    assert "python -m twine check --strict dist/*" in build
    publish = release["jobs"]["publish"]
    assert {"id-token": "write"} == publish["permissions"]
    assert "pypa/gh-action-pypi-publish@release/v1" in [step.get("uses") for step in publish["steps"]]
    assert not any("password" in step.get("with", {}) for step in publish["steps"])  # no stored token
