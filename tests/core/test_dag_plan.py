"""What a config edit reruns, on the finished tiny DAG: exactly the jobs that read the edited key.

A figure's params carry only the config keys its manifest names, a training job only its
experiment's section: so after an edit, Snakemake plans the jobs downstream of it and nothing
else (each paper's claims read its whole section and rerun with it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import job_name_of, tiny_papers

from sgdrepro.core.dag import figure_job_name, train_job_name
from sgdrepro.core.manifest import manifests

REPO = Path(__file__).resolve().parents[2]


def planned_outputs(workdir: Path, papers: list[str], *config: str) -> set[str]:
    """The output files Snakemake would update (``--summary``: plan "update pending"), nothing run."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--summary",
           "--cores", "1", "--configfile", str(REPO / "config" / "test.yaml"),
           "--config", f"papers={json.dumps(papers)}", *config]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "output_file\t" in out, out[-3000:]
    rows = [line.split("\t") for line in out.splitlines() if line.startswith("results/")]
    return {row[0] for row in rows if row[-1] == "update pending"}


def expected_after_edit(paper: str, section_key: str) -> set[str]:
    """The jobs that read ``section_key`` of the paper's section, directly or through an experiment."""
    manifest = manifests()[paper]
    jobs = {f"{paper}_claims", "report"}
    if section_key in manifest.experiment_names:
        jobs.add(train_job_name(paper, section_key))
    for figure in manifest.figures:
        if section_key in figure.config or section_key in figure.reads:
            jobs.add(figure_job_name(paper, figure.name))
    return jobs


@pytest.mark.slow
def test_an_edit_reruns_only_what_reads_it(tiny_results):
    workdir, papers = tiny_results.parent, tiny_papers()
    if not {"heavy_tail", "quadratic_chaos"} <= set(papers):
        pytest.skip("the session's tiny DAG does not cover heavy_tail and quadratic_chaos")
    assert planned_outputs(workdir, papers) == set(), "the finished tiny DAG is not up to date"

    # a training setting of one experiment: its job, the figures that read it, the claims, the report
    edit = 'heavy_tail={"quick": {"mlp": {"n_average": 149}}}'
    planned = {job_name_of(p) for p in planned_outputs(workdir, papers, edit)}
    assert planned == expected_after_edit("heavy_tail", "mlp"), planned
    assert planned >= {"heavy_tail_train_mlp", "heavy_tail_mlp_alpha_vs_lr_over_b", "heavy_tail_claims"}
    assert "heavy_tail_alpha_vs_lr" not in planned and not any(j.startswith("quadratic_chaos") for j in planned)

    # a key only figures and claims read: no training job, only the figures whose manifest names it
    edit = 'heavy_tail={"quick": {"analysis": {"hill_k_fraction": 0.0101}}}'
    planned = {job_name_of(p) for p in planned_outputs(workdir, papers, edit)}
    assert planned == expected_after_edit("heavy_tail", "analysis"), planned
    assert not any("_train_" in job for job in planned)
    assert not any(j.startswith("quadratic_chaos") for j in planned)

    # the other paper's figures read none of heavy_tail's keys: an edit there plans nothing of heavy_tail
    edit = 'quadratic_chaos={"quick": {"bifurcation": {"window": 255}}}'
    planned = {job_name_of(p) for p in planned_outputs(workdir, papers, edit)}
    assert planned == expected_after_edit("quadratic_chaos", "bifurcation"), planned
