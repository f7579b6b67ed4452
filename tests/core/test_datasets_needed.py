"""Data sets are asked for only when a planned job reads them, before any job starts.

- which experiments read which data set is decided from the config alone (``needed_datasets``);
- config validation in the workflow leaves data sets out (``datasets=False``); library callers
  keep the presence check (tests/core/test_bad_config.py);
- the report lists what ``allow_missing_datasets`` left out, and is byte for byte unchanged when
  nothing was;
- ``snakemake -n`` on the repository's Snakefile in a scratch directory: without data sets the
  default target stops with one message, ``allow_missing_datasets=true`` plans everything else,
  papers or targets that need no data set plan normally, a file with a wrong checksum is named.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import job_name_of

from sgdrepro.core.config import load_config

from sgdrepro.core.config import validate_config
from sgdrepro.core.datasets import MNIST_SHAPES, DatasetMissing, needed_datasets

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = load_config(REPO / "config")
PAPER_NEEDS = {("heavy_tail", "mlp"): "mnist", ("large_step_sparse", "deep"): "cifar10",
               ("large_step_sparse", "deep_sota"): "cifar10", ("large_step_sparse", "deep_densenet"): "cifar100"}


def paper_config(datasets_dir) -> dict:
    config = copy.deepcopy(CONFIG)
    config.update(scale="paper", datasets_dir=str(datasets_dir))
    return config


def test_the_config_decides_which_experiments_read_a_data_set():
    assert needed_datasets(CONFIG) == {}  # quick: digits only
    assert needed_datasets(paper_config("data")) == PAPER_NEEDS
    assert needed_datasets({**paper_config("data"), "papers": ["quadratic_chaos"]}) == {}
    config = paper_config("data")
    config["large_step_sparse"]["paper"]["deep"]["dataset"] = "synthetic_cifar"
    assert ("large_step_sparse", "deep") not in needed_datasets(config)


def test_validation_in_the_workflow_leaves_data_sets_out(tmp_path):
    config = paper_config(tmp_path / "none")
    validate_config(config, SCHEMA, results_dir=str(tmp_path / "results"), datasets=False)
    with pytest.raises(DatasetMissing, match="mnist"):  # library callers get the check by default
        validate_config(config, SCHEMA, results_dir=str(tmp_path / "results"))
    assert config["allow_missing_datasets"] is False


# ---------------------------------------------------------------- the report


@pytest.fixture
def report_inputs(tmp_path):
    from sgdrepro.core import Claim, new_figure, save_figure, write_claims
    from sgdrepro.core.claims import mean_ci

    papers = {}
    for paper in ("heavy_tail", "quadratic_chaos"):
        figures = []
        for name in ("first", "second"):
            fig, axes = new_figure(1, 1)
            axes[0][0].plot([0, 1], [1, 0])
            stem = tmp_path / paper / "figures" / name
            stem.parent.mkdir(parents=True, exist_ok=True)
            save_figure(fig, stem, caption=f"{paper} {name}")
            figures.append(str(stem.with_suffix(".png")))
        write_claims([Claim.near(f"{paper}_ok", "holds", mean_ci([0.99, 1.0, 1.01]), 1.0, 0.1)], tmp_path / paper / "claims.json")
        papers[paper] = {"claims": str(tmp_path / paper / "claims.json"), "figures": figures}
    return papers, {"scale": "quick", "papers": list(papers)}


def test_report_unchanged_when_nothing_is_left_out(tmp_path, report_inputs):
    from sgdrepro.core.report import write_report

    papers, config = report_inputs
    plain = write_report(tmp_path / "plain.html", papers, config).read_bytes()
    empty = {paper: {**entry, "not_built": {}} for paper, entry in papers.items()}
    assert write_report(tmp_path / "empty.html", empty, config).read_bytes() == plain
    assert b"not built" not in plain.lower()


def test_report_lists_what_was_not_built(tmp_path, report_inputs):
    from sgdrepro.core.report import write_report

    papers, config = report_inputs
    reason = "not built (data set mnist missing from datasets_dir)"
    papers["heavy_tail"] = {"claims": None, "figures": papers["heavy_tail"]["figures"][:1],
                            "not_built": {"second": reason, "claims.json": reason}}
    text = write_report(tmp_path / "report.html", papers, config).read_text()
    section = text[text.index('<h2 id="heavy_tail"'):text.index('<h2 id="quadratic_chaos"')]
    assert f"<p>Claims: {reason}; config section" in section and "<table>" not in section
    assert f"<li><code>second</code>: {reason}</li>" in section and f"<li><code>claims.json</code>: {reason}</li>" in section
    assert section.count("<figure>") == 1
    assert f'<td class="na">{reason}</td><td>1 (1 not built)</td>' in text
    assert "Claims: 1 of 1 pass, across 2 paper(s)" in text  # the other paper's claims still count


# ---------------------------------------------------------------- through snakemake -n


def dry_run(workdir: Path, *args: str) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "-n", "--cores", "1", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False)
    return result.returncode, result.stdout + result.stderr


def planned(out: str) -> set[str]:
    """The planned jobs, by the name their resources are keyed by (``<paper>_train_<experiment>``,
    ``<paper>_<figure>``, ``<paper>_claims``, ``report``; ``all``), from the outputs each is to create."""
    names = {"all"} if re.search(r"^(local)?rule all:", out, flags=re.MULTILINE) else set()
    for outputs in re.findall(r"^Reason: Missing output files: ([^;\n]+)", out, flags=re.MULTILINE):
        names.add(job_name_of(outputs.split(", ")[0]))
    return names


def no_results(workdir: Path) -> bool:
    return not (workdir / "results").exists() or not any(p.is_file() for p in (workdir / "results").rglob("*"))


@pytest.mark.slow
def test_paper_scale_without_data_sets_stops_with_one_message(tmp_path):
    datasets = tmp_path / "no_datasets"
    code, out = dry_run(tmp_path, "--config", "scale=paper", f"datasets_dir={datasets}")
    assert code != 0, out[-3000:]
    assert "Traceback" not in out and "Exception" not in out, out[-3000:]
    errors = [line for line in out.splitlines() if line.startswith("sgdrepro data set error: ")]
    assert [re.search(r"data set '(\w+)'", line)[1] for line in errors] == ["mnist", "cifar10", "cifar100"], out[-3000:]
    assert all(line.startswith(f"sgdrepro data set error: config key 'datasets_dir' = {str(datasets)!r}: ") for line in errors)
    assert "missing: train-images-idx3-ubyte" in errors[0] and "missing: data_batch_1" in errors[1]
    assert "heavy_tail.mlp (for figure mlp_alpha_vs_lr_over_b, figure mlp_accuracy_vs_alpha, heavy_tail claims)" in out
    assert "large_step_sparse.deep_densenet (for figure deep_densenet_sparsity, large_step_sparse claims)" in out
    assert "--config allow_missing_datasets=true" in out and "results/report.html" in out
    assert no_results(tmp_path)


@pytest.mark.slow
def test_allow_missing_datasets_plans_everything_else(tmp_path):
    code, out = dry_run(tmp_path, "--config", "scale=paper", f"datasets_dir={tmp_path / 'none'}", "allow_missing_datasets=true")
    assert code == 0, out[-3000:]
    jobs = planned(out)
    left_out = {"heavy_tail_train_mlp", "heavy_tail_mlp_alpha_vs_lr_over_b", "heavy_tail_mlp_accuracy_vs_alpha",
                "heavy_tail_claims", "large_step_sparse_train_deep", "large_step_sparse_train_deep_sota",
                "large_step_sparse_train_deep_densenet", "large_step_sparse_deep_sparsity", "large_step_sparse_claims"}
    assert not jobs & left_out, jobs & left_out
    assert {"heavy_tail_train_linreg", "heavy_tail_alpha_vs_lr", "large_step_sparse_train_diagonal_sgd",
            "quadratic_chaos_claims", "dimensionless_odes_claims", "autoencoder_batch_claims", "report", "all"} <= jobs
    assert "sgdrepro: data set mnist missing from datasets_dir: leaving out heavy_tail.mlp" in out


@pytest.mark.slow
def test_papers_and_targets_without_data_sets_plan_normally(tmp_path):
    code, out = dry_run(tmp_path, "--config", "scale=paper", 'papers=["quadratic_chaos"]')
    assert code == 0 and "sgdrepro" not in out, out[-3000:]
    code, out = dry_run(tmp_path, "results/heavy_tail/figures/alpha_vs_lr.pdf", "--config", "scale=paper")
    assert code == 0 and planned(out) == {"heavy_tail_train_linreg", "heavy_tail_alpha_vs_lr"}, out[-3000:]


@pytest.mark.slow
def test_a_wrong_checksum_stops_before_any_job_naming_the_file(tmp_path):
    """Genuine-format fake CIFAR-10 batches (not the published bytes), asked for through one figure:
    only that figure's data set is checked, and its first file is named with both digests."""
    from test_datasets import write_cifar10

    from sgdrepro.core.datasets import MD5, file_md5

    write_cifar10(tmp_path / "datasets")
    code, out = dry_run(tmp_path, "results/large_step_sparse/figures/deep_sparsity.pdf", "--config", "scale=paper",
                        f"datasets_dir={tmp_path / 'datasets'}")
    batch = tmp_path / "datasets" / "cifar-10-batches-py" / "data_batch_1"
    assert code != 0 and "Traceback" not in out, out[-3000:]
    assert f"{batch} has MD5 {file_md5(batch)}, the published file has {MD5['cifar10']['data_batch_1']}" in out, out[-3000:]
    assert "cifar100" not in out  # deep_densenet's data set is not needed by this target
    assert "The target asked for needs this data set" in out
    assert no_results(tmp_path)


@pytest.mark.slow
def test_uncompressed_mnist_of_the_published_shape_is_accepted(tmp_path):
    """Uncompressed IDX files are checked by header and size (no MD5 is published for them): zero-filled
    sparse files of MNIST's dims pass, and the MLP's training job is planned."""
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    for stem, shape in MNIST_SHAPES.items():
        header = bytes([0, 0, 0x08, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
        with open(datasets / stem, "wb") as handle:
            handle.write(header)
            handle.truncate(len(header) + int(np.prod(shape)))
    code, out = dry_run(tmp_path, "--config", "scale=paper", 'papers=["heavy_tail"]', f"datasets_dir={datasets}")
    assert code == 0, out[-3000:]
    assert {"heavy_tail_train_mlp", "heavy_tail_claims", "report"} <= planned(out)
