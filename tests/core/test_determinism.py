"""Determinism: the same DAG gives byte-identical results, whatever the core count or the run.

- ``scripts/check_determinism.py`` (the user tool to compare result trees, also across
  machines) is tested on small synthetic trees: identical, one byte changed, a file missing,
  a digest table written on one side and compared on the other, temp files and logs ignored.
- The whole DAG over every paper is run twice on the tiny test config, in fresh scratch
  directories, at the same time: once with ``--cores 1`` with every CPU-dispatching library told
  to use its baseline instruction set (conftest.OLDEST_CPU: what the oldest x86-64 machine would
  pick) and once with ``--cores 2`` on this CPU (and different Python hash seeds, so that nothing
  may depend on set or dict-of-str ordering);
  the session fixture ``tiny_dags`` of conftest runs them, and the per-paper end-to-end tests
  read the same runs. These are two clean runs; every .nc, .pdf, .png, .json and .html must
  be byte-identical between them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_determinism.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("check_determinism", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def _tree(root: Path) -> Path:
    files = {
        "report.html": "<html>report</html>",
        "heavy_tail/claims.json": json.dumps([{"id": "a", "passed": True}]),
        "heavy_tail/data/linreg.nc": "CDF\x01 fake netcdf",
        "heavy_tail/figures/fig1.pdf": "%PDF-1.4 fake",
        "heavy_tail/figures/fig1.png": "\x89PNG fake",
        "heavy_tail/logs/train_linreg.log": "INFO took 1.234 s",  # logs hold timings: not compared
        "heavy_tail/data/.linreg.nc.x1y2.tmp.nc": "half-written",  # leftover temp file: not a result
        "notes.txt": "not a result file",
    }
    for rel, text in files.items():
        path = root / "results" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "results"


def test_digest_table_lists_result_files_only(tmp_path):
    results = _tree(tmp_path / "a")
    out = run_script(results)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    names = [line.split("  ", 1)[1] for line in lines]
    assert names == sorted(["report.html", "heavy_tail/claims.json", "heavy_tail/data/linreg.nc",
                            "heavy_tail/figures/fig1.pdf", "heavy_tail/figures/fig1.png"])
    for line in lines:
        digest, name = line.split("  ", 1)
        assert digest == hashlib.sha256((results / name).read_bytes()).hexdigest()
    # a workflow directory holding results/ gives the same table
    assert run_script(tmp_path / "a").stdout == out.stdout


def test_compare_identical_trees(tmp_path):
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    (b / "heavy_tail" / "logs" / "train_linreg.log").write_text("INFO took 9.9 s")
    out = run_script(a, "--compare", b)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "5 identical, 0 different" in out.stdout


def test_compare_reports_each_difference(tmp_path):
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    png = b / "heavy_tail" / "figures" / "fig1.png"
    png.write_bytes(png.read_bytes()[:-1] + b"X")  # one byte
    (b / "heavy_tail" / "figures" / "fig1.pdf").unlink()
    (b / "heavy_tail" / "figures" / "fig2.png").write_text("extra")
    out = run_script(a, "--compare", b)
    assert out.returncode == 1
    assert "differs:       heavy_tail/figures/fig1.png" in out.stdout
    assert "only here:     heavy_tail/figures/fig1.pdf" in out.stdout
    assert "only in other: heavy_tail/figures/fig2.png" in out.stdout
    assert "3 identical, 3 different of 6 files" in out.stdout
    assert "claims.json" not in out.stdout and "linreg.nc" not in out.stdout


def test_compare_against_a_digest_table_from_another_machine(tmp_path):
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    table = tmp_path / "digests.txt"
    assert run_script(a, "--write", table).returncode == 0
    assert run_script(b, "--compare", table).returncode == 0
    (b / "report.html").write_text("<html>other</html>")
    out = run_script(b, "--compare", table)
    assert out.returncode == 1 and "differs:       report.html" in out.stdout


def test_usage_errors(tmp_path):
    assert run_script(tmp_path / "nowhere").returncode == 2
    (tmp_path / "empty").mkdir()
    assert run_script(tmp_path / "empty").returncode == 2
    results = _tree(tmp_path / "a")
    bad = tmp_path / "bad.txt"
    bad.write_text("not a digest line\n")
    assert run_script(results, "--compare", bad).returncode == 2
    assert run_script(results, "--compare", tmp_path / "missing").returncode == 2


def test_digests_function_skips_hidden_and_other_files(tmp_path):
    module = _load_script()
    results = _tree(tmp_path / "a")
    (results / ".snakemake_timestamp.json").write_text("{}")
    table = module.digests(results)
    assert set(table) == {"report.html", "heavy_tail/claims.json", "heavy_tail/data/linreg.nc",
                          "heavy_tail/figures/fig1.pdf", "heavy_tail/figures/fig1.png"}


# ---------------------------------------------------------------- the real DAG


@pytest.mark.slow
def test_dag_is_byte_identical_with_1_and_2_cores_and_on_an_older_cpu(tiny_dags):
    """The session's two tiny DAGs (--cores 1 on the emulated oldest x86-64 CPU and --cores 2 on this
    one, run at the same time, see conftest): portable numerics make them byte-identical."""
    papers = sorted(p.name for p in tiny_dags[2].iterdir() if (p / "claims.json").exists())
    assert papers, "the tiny DAG produced no paper"
    one, two = tiny_dags[1], tiny_dags[2]
    module = _load_script()
    table = module.digests(one)
    # every paper produced data, figures (pdf and png) and claims, and there is one report
    for paper in papers:
        names = [n for n in table if n.startswith(paper + "/")]
        assert f"{paper}/claims.json" in names
        assert any(n.startswith(f"{paper}/data/") and n.endswith(".nc") for n in names), paper
        pngs = {n[:-4] for n in names if n.startswith(f"{paper}/figures/") and n.endswith(".png")}
        pdfs = {n[:-4] for n in names if n.startswith(f"{paper}/figures/") and n.endswith(".pdf")}
        assert pngs and pngs == pdfs, paper
    assert "report.html" in table

    out = run_script(one, "--compare", two)
    assert out.returncode == 0, f"results differ between --cores 1 and --cores 2:\n{out.stdout[-4000:]}"
    assert f"{len(table)} identical, 0 different" in out.stdout


def test_compare_explains_what_differs_in_a_netcdf_file(tmp_path):
    """Attributes only (a code version) versus data (a changed value), read from real store files."""
    import numpy as np
    import xarray as xr

    from sgdrepro.core.store import write_dataset

    def tree(name, commit, value):
        ds = xr.Dataset({"loss": (("step",), np.array([1.0, 0.5, value]), {"units": "1", "long_name": "loss"})},
                        coords={"step": [0, 1, 2]})
        write_dataset(ds, tmp_path / name / "results" / "p" / "data" / "e.nc", {"git_commit": commit})
        return tmp_path / name / "results"

    a = tree("a", "abc", 0.25)
    assert run_script(a, "--compare", tree("b", "abc", 0.25)).returncode == 0  # same inputs, same bytes
    out = run_script(a, "--compare", tree("c", "def", 0.25))
    assert out.returncode == 1 and "[attrs: git_commit]" in out.stdout, out.stdout
    out = run_script(a, "--compare", tree("d", "abc", 0.125))
    assert out.returncode == 1 and "[data: loss (max abs diff 0.125)]" in out.stdout, out.stdout
