"""A job stays inside its own memory request (Snakemake's ``mem_mb``), whatever the machine has
free: a training job run under an address-space limit smaller than its unchunked need completes,
because its chunks are sized from the request. The same job unchunked
fails under that limit, so the limit is binding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch

from sgdrepro.core import numerics
from sgdrepro.core.entry import _memory_budget
from sgdrepro.core.trainer import auto_chunk_size, memory_budget

# quadratic_chaos's Gaussian phase map with wide data (d = n = 200, 1500 step sizes, 4 steps):
# unchunked it needs about 2.3 GB resident, chunked within a 1000 MB request about 0.7 GB
JOB = textwrap.dedent("""
    import json, resource, sys
    from types import SimpleNamespace
    import numpy as np
    from sgdrepro.core.entry import train_job
    from sgdrepro.core.store import read_dataset

    limit_mb, mem_mb, chunk_size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    cfg = {"d": 200, "n": [200], "noise": 0.0, "init_scale": 0.1, "a": {"min": 0.3, "max": 2.5, "num": 1500},
           "n_seeds": 1, "n_steps": 4, "window": 2, "record_early": 0,
           "chunk_size": None if chunk_size == "auto" else int(chunk_size)}
    smk = SimpleNamespace(
        params=SimpleNamespace(paper="quadratic_chaos", experiment="gaussian_phase_map", cfg=cfg, threads=1),
        config={"device": "cpu", "dtype": "float64", "numerics": "portable", "progress_seconds": 60,
                "root_seed": 0, "scale": "quick", "datasets_dir": None},
        resources=SimpleNamespace(mem_mb=mem_mb), log=[out + ".log"], input={}, output=SimpleNamespace(nc=out))
    train_job(smk)
    ds = read_dataset(out)
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
                      "runs": int(ds["sharpness"].size), "finite": bool(np.isfinite(ds["sharpness"]).all())}))
""")

LIMIT_MB = 2000  # address space: python + torch take about 950 MB of it before any tensor


def _python(script: str, *args) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter (its own peak RSS and limits) with the pinned numerics."""
    env = {**os.environ, **numerics.environment("portable")}
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=600)


def _run(tmp_path, mem_mb: int, chunk_size: str, name: str):
    return _python(JOB, LIMIT_MB, mem_mb, chunk_size, tmp_path / name)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as on Linux")
def test_a_job_completes_within_a_limit_below_its_unchunked_need(tmp_path):
    chunked = _run(tmp_path, mem_mb=1000, chunk_size="auto", name="chunked.nc")
    assert chunked.returncode == 0, chunked.stderr[-2000:]
    result = json.loads(chunked.stdout.strip().splitlines()[-1])
    assert result["maxrss_mb"] < 1000 and result["runs"] == 1500 and result["finite"]
    log = (tmp_path / "chunked.nc.log").read_text()
    assert "memory budget 1000 MB (the job's mem_mb)" in log and "trained" in log and "of 1500" in log
    n_chunks = log.count("trained ")
    assert n_chunks > 1

    unchunked = _run(tmp_path, mem_mb=1000, chunk_size="1500", name="unchunked.nc")
    assert unchunked.returncode != 0 and "can't allocate memory" in unchunked.stderr
    assert not (tmp_path / "unchunked.nc").exists()  # a failed job leaves no half-written file


def test_chunks_fit_the_budget_not_the_free_memory():
    cpu = torch.device("cpu")
    with memory_budget(400 * 10**6):
        assert auto_chunk_size(10**6, cpu) == 100  # a quarter of 400 MB in runs of 1 MB
    assert auto_chunk_size(10**6, cpu, budget=40 * 10**6) == 10


def test_the_budget_is_the_jobs_mem_mb():
    assert _memory_budget(SimpleNamespace(resources=SimpleNamespace(mem_mb=4000))) == 4_000_000_000
    assert _memory_budget(SimpleNamespace(resources=SimpleNamespace())) is None


RECORDING = textwrap.dedent("""
    import json, resource, sys
    import torch
    from sgdrepro.core.entry import RunContext
    from sgdrepro.quadratic_chaos import experiments

    record_early = int(sys.argv[1])
    # the paper-scale generalization job (d = 50, n = 500, 2000 test points), 15 runs, 300 steps
    cfg = {"d": 50, "n": 500, "width": 10, "teacher_width": 5, "n_test": 2000, "noise": 0.1, "init_scale": 0.1,
           "a": [0.93, 1.15, 1.6], "n_seeds": 5, "n_steps": 300, "window": 16, "record_early": record_early}
    torch.set_num_threads(1)
    ctx = RunContext("quadratic_chaos", "generalization", torch.device("cpu"), torch.float64)
    ds = experiments.run_generalization(cfg, ctx)
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
                      "records": int(ds.sizes["step"])}))
""")


def _peak_rss(record_early: int) -> dict:
    done = _python(RECORDING, record_early)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_recording_every_step_costs_only_the_records():
    """Recording all 300 steps instead of the last 16 adds 300 x 7 numbers per run to the memory,
    not a fragmented heap: one record per step used to cost ~75 KB per run (here ~340 MB; 10 GB
    resident for the paper-scale generalization job, whose records are 8 MB)."""
    few, every = _peak_rss(0), _peak_rss(300)
    assert few["records"] == 18 and every["records"] == 301  # step 0 and the last 17 steps; every step
    assert every["maxrss_mb"] - few["maxrss_mb"] < 100, (few, every)
