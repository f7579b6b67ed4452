"""Shared fixtures: run the workflow in a scratch directory with the tiny test config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_workflow(workdir: Path, papers: list[str], *targets: str, config: list[str] = (), cores: int = 2,
                 extra: list[str] = (), check: bool = True, tiny: bool = True) -> subprocess.CompletedProcess:
    """``snakemake`` on the repo's Snakefile with results under ``workdir``."""
    cmd = [
        sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
        "--cores", str(cores), "--quiet", "rules",
    ]
    if tiny:
        cmd += ["--configfile", str(REPO / "config" / "test.yaml")]
    # targets first: everything after --config would be read as config entries
    cmd += [*targets, *extra, "--config", f"papers={json.dumps(papers)}", *config]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


@pytest.fixture
def workflow_runner():
    return run_workflow
