"""pyproject.toml and envs/sgdrepro.yaml declare the same dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_conda_env_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "sgdrepro.yaml").read_text())
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += [d for d in dep["pip"] if not d.startswith("-")]
        elif _name(dep) not in {"python", "pip"}:
            conda.append(dep)
    declared = {_name(d): d for d in project["dependencies"]}
    listed = {_name(d): d for d in conda + pip}
    assert set(declared) == set(listed)
    # the same version constraints, spaces aside (conda and pip share the syntax used here)
    for name in declared:
        assert declared[name].replace(" ", "").lower() == listed[name].replace(" ", "").lower(), name
    assert declared["torch"] == "torch==2.13.0"  # pinned: an unpinned torch pulls GBs of CUDA wheels


def test_test_extra_has_pytest_and_hypothesis():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {_name(d) for d in extras["test"]}
    assert {"pytest", "hypothesis"} <= names
