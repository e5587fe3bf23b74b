"""Binder gets the same course as `make lab`: environment.yml and pyproject.toml agree.

conda can't run here, so the check is done by reading both files: every package that appears
in both must carry the same version specifier, every conda package must be one the course
needs, and pip must be able to resolve the conda list as written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
CONDA_ONLY = {"python", "pip"}


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, Requirement] = {}
    for extra in project["optional-dependencies"].values():
        for line in extra:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) != "eda-kit":
                found[canonicalize_name(requirement.name)] = requirement
    return found


def conda_requirements() -> dict[str, Requirement]:
    """The pip-installable packages of environment.yml (python and pip themselves left out)."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    found: dict[str, Requirement] = {}
    for entry in environment["dependencies"]:
        assert isinstance(entry, str), f"unexpected nested entry in environment.yml: {entry!r}"
        name = re.split(r"[<>=!~ ]", entry, maxsplit=1)[0]
        if name not in CONDA_ONLY:
            found[canonicalize_name(name)] = Requirement(entry)
    return found


def test_environment_uses_conda_forge_and_python_3_11():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    assert "python=3.11" in environment["dependencies"]


def test_every_shared_package_has_the_same_specifier():
    conda, pip = conda_requirements(), pyproject_requirements()
    mismatched = {
        name: (str(conda[name].specifier), str(pip[name].specifier))
        for name in conda.keys() & pip.keys()
        if conda[name].specifier != pip[name].specifier
    }
    assert not mismatched, f"environment.yml vs pyproject.toml: {mismatched}"


def test_every_conda_package_is_one_the_course_declares():
    unknown = set(conda_requirements()) - set(pyproject_requirements())
    assert not unknown, f"in environment.yml but not in pyproject.toml: {sorted(unknown)}"


def test_binder_has_everything_the_course_extra_needs():
    course = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    needed = {
        canonicalize_name(Requirement(line).name)
        for extra in ("viz", "course", "postgres", "rabbitmq")
        for line in course[extra]
    } - {"eda-kit"}
    missing = needed - set(conda_requirements())
    assert not missing, f"Binder would lack: {sorted(missing)}"


def test_postbuild_is_executable_and_installs_the_package():
    post_build = ROOT / "postBuild"
    assert os.access(post_build, os.X_OK), "postBuild must be executable"
    lines = [line.strip() for line in post_build.read_text().splitlines()]
    assert lines[0].startswith("#!"), "postBuild needs a shebang"
    assert "set -e" in lines
    assert "python -m pip install --no-deps ." in lines
    assert not any("install -e" in line for line in lines), "-e defeats Binder's cache"


def test_no_binder_folder_hides_the_top_level_files():
    assert not (ROOT / "binder").exists() and not (ROOT / ".binder").exists()


def test_pip_can_resolve_the_conda_list():
    specs = [str(requirement) for requirement in conda_requirements().values()]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            *specs,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if (
        result.returncode != 0
        and "No matching distribution" not in result.stderr
        and ("connection" in result.stderr.lower() or "network" in result.stderr.lower())
    ):
        pytest.skip(f"no package index reachable: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr


def test_readme_badge_opens_the_start_notebook_in_jupyterlab():
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/v2/" in readme
    assert "urlpath=lab/tree/notebooks/00_start_here.ipynb" in readme


def test_binder_installs_and_starts_the_servers_of_notebook_08():
    packages = (ROOT / "apt.txt").read_text().split()
    assert packages == ["postgresql", "rabbitmq-server"]
    start = ROOT / "start"
    assert os.access(start, os.X_OK), "start must be executable"
    lines = [line.strip() for line in start.read_text().splitlines()]
    assert lines[0].startswith("#!")
    assert any(line.startswith("python -m eda_kit.services start") for line in lines)
    assert lines[-1] == 'exec "$@"', "start must hand over to the command Binder gave it"
