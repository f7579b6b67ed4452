"""Shared fixtures: run the workflow in a scratch directory with the tiny test config.

The whole tiny DAG (every paper, report included) runs once per test session, twice at the same
time: with ``--cores 1`` on an emulated older CPU (:data:`OLDEST_CPU`: every library told to use
its baseline instruction set) and with ``--cores 2`` on this machine's own (:func:`tiny_dags`). The per-paper end-to-end
tests check their paper's figures and claims in the ``--cores 2`` results
(:func:`check_paper_outputs`); the determinism test compares the two trees byte for byte.
SGDREPRO_TEST_PAPERS (comma-separated) narrows the papers for a quick local check; CI leaves it
unset and runs every paper.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sgdrepro.core.manifest import manifests

REPO = Path(__file__).resolve().parents[1]


def snakemake_command(workdir: Path, papers: list[str], *targets: str, config: list[str] = (), cores: int = 2,
                      extra: list[str] = (), tiny: bool = True) -> list[str]:
    """The ``snakemake`` command line on the repo's Snakefile with results under ``workdir``."""
    cmd = [
        sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
        "--cores", str(cores), "--quiet", "rules",
    ]
    if tiny:
        cmd += ["--configfile", str(REPO / "config" / "test.yaml")]
    # targets first: everything after --config would be read as config entries
    return cmd + [*targets, *extra, "--config", f"papers={json.dumps(papers)}", *config]


def run_workflow(workdir: Path, papers: list[str], *targets: str, config: list[str] = (), cores: int = 2,
                 extra: list[str] = (), check: bool = True, tiny: bool = True) -> subprocess.CompletedProcess:
    """``snakemake`` on the repo's Snakefile with results under ``workdir``."""
    cmd = snakemake_command(workdir, papers, *targets, config=config, cores=cores, extra=extra, tiny=tiny)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


@pytest.fixture
def workflow_runner():
    return run_workflow


PAPERS = list(manifests())  # every paper, in manifest order


def tiny_papers() -> list[str]:
    """The papers the session's tiny DAG covers (all, unless SGDREPRO_TEST_PAPERS narrows them)."""
    wanted = os.environ.get("SGDREPRO_TEST_PAPERS")
    return [p for p in PAPERS if p in wanted.split(",")] if wanted else list(PAPERS)


# What another x86-64 machine would pick, told to each library that dispatches on the CPU: the
# oldest level there is. In portable numerics the project's pins override or contain these, so the
# numbers must not change; in native numerics they do (tests/core/test_numerics.py).
OLDEST_CPU = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "OPENBLAS_CORETYPE": "Prescott",
    "NPY_DISABLE_CPU_FEATURES": "X86_V3,X86_V4,AVX512_ICL",
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-AVX",
}


def _start_dag(workdir: Path, papers: list[str], cores: int, hash_seed: str, cpu: dict | None = None) -> subprocess.Popen:
    cmd = snakemake_command(workdir, papers, cores=cores)
    workdir.mkdir(parents=True)
    with open(workdir.parent / f"{workdir.name}.log", "w") as log:  # the child keeps its own handle
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(cpu or {}), "PYTHONHASHSEED": hash_seed})


def _finish_dag(proc: subprocess.Popen, workdir: Path) -> None:
    proc.wait()
    log = (workdir.parent / f"{workdir.name}.log").read_text()
    assert proc.returncode == 0, f"snakemake in {workdir} failed:\n{log[-6000:]}"


@pytest.fixture(scope="session")
def tiny_dags(tmp_path_factory) -> dict[int, Path]:
    """{cores: results directory} of the whole tiny DAG run with --cores 1 (on the emulated
    :data:`OLDEST_CPU`) and --cores 2 (this CPU) at the same time, with different Python hash
    seeds: each run's results must not depend on the CPU's instruction sets, on what else the
    machine is doing, nor on set or dict-of-str ordering."""
    root = tmp_path_factory.mktemp("tiny_dag")
    papers = tiny_papers()
    runs = {cores: _start_dag(root / f"cores{cores}", papers, cores, hash_seed=str(cores),
                              cpu=OLDEST_CPU if cores == 1 else None) for cores in (1, 2)}
    for cores, proc in runs.items():
        _finish_dag(proc, root / f"cores{cores}")
    return {cores: root / f"cores{cores}" / "results" for cores in runs}


@pytest.fixture(scope="session")
def tiny_results(tiny_dags) -> Path:
    """The results directory of the session's tiny DAG (--cores 2)."""
    return tiny_dags[2]


def check_paper_outputs(results: Path, paper: str, figures: list[str], min_claims: int, *,
                        known_failures: frozenset[str] = frozenset(), not_assessable: frozenset[str] = frozenset(),
                        caption_contains: str = "") -> list[dict]:
    """Every figure of ``paper`` exists as a non-trivial PDF and PNG whose caption is set (and
    contains ``caption_contains``), at least ``min_claims`` claims were measured, the claims that
    cannot be assessed at this size are exactly ``not_assessable`` (each with its reason), and
    every other claim passed except the ``known_failures``. Returns the claims."""
    from sgdrepro.core.figures import read_caption

    if paper not in tiny_papers():
        pytest.skip(f"{paper} is not in SGDREPRO_TEST_PAPERS")
    out = results / paper
    for figure in figures:
        for ext in ("pdf", "png"):
            assert (out / "figures" / f"{figure}.{ext}").stat().st_size > 1000, f"{figure}.{ext}"
        caption = read_caption(out / "figures" / f"{figure}.png")
        assert caption and caption_contains in caption, (figure, caption)
    claims = json.loads((out / "claims.json").read_text())
    assert len(claims) >= min_claims, [c["id"] for c in claims]
    unassessed = {c["id"] for c in claims if c["passed"] is None}
    assert unassessed == set(not_assessable), sorted(unassessed ^ set(not_assessable))
    assert all(c["reason"] for c in claims if c["passed"] is None)
    failed = {c["id"] for c in claims if c["passed"] is False} - set(known_failures)
    assert not failed, [c for c in claims if c["id"] in failed]
    return claims


def assert_falsified(claims, pattern: str) -> list:
    """The claims whose id matches ``pattern`` (a regex, whole id) exist and all fail: the input
    given to the measurement lacked the paper's effect. ``claims``: Claim objects or dicts."""
    import re

    def get(claim, key):
        return claim[key] if isinstance(claim, dict) else getattr(claim, key)

    matching = [c for c in claims if re.fullmatch(pattern, get(c, "id"))]
    assert matching, f"no claim matches {pattern!r}: {[get(c, 'id') for c in claims]}"
    survivors = [(get(c, "id"), get(c, "measured"), get(c, "ci"), get(c, "reason")) for c in matching
                 if get(c, "passed") is not False]
    assert not survivors, f"claims that should fail on this input did not: {survivors}"
    return matching


@pytest.fixture
def paper_outputs(tiny_results):
    """``check(paper, figures, min_claims, **kw)``: :func:`check_paper_outputs` on the session's tiny DAG."""
    return lambda paper, figures, min_claims, **kw: check_paper_outputs(tiny_results, paper, figures, min_claims, **kw)


def job_name_of(path: str) -> str:
    """The job that writes ``path``, by the name its resources are keyed by: ``<paper>_train_<experiment>``,
    ``<paper>_<figure>``, ``<paper>_claims`` or ``report`` (the inverse of the workflow's paths)."""
    from sgdrepro.core.dag import figure_job_name, train_job_name

    parts = Path(path).parts  # results/<paper>/{data,figures}/<name>.<ext> | results/<paper>/claims.json | ...
    if parts[-1] == "report.html":
        return "report"
    if parts[-1] == "claims.json":
        return f"{parts[-2]}_claims"
    stem = Path(parts[-1]).stem
    return train_job_name(parts[-3], stem) if parts[-2] == "data" else figure_job_name(parts[-3], stem)

