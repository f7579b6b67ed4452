"""A sixth paper in one folder: its package, its config file and its schema, and nothing else.

A toy paper (gradient descent on the quadratic f(x) = x^2 / 2, whose iterates contract by
|1 - eta| per step) is written to a temporary directory: the package
``sgdrepro/toy_descent/`` (manifest, experiment, figure, claim) outside this source tree, on
PYTHONPATH only, plus ``config/toy_descent.yaml`` and ``workflow/schemas/toy_descent.schema.yaml``
in a copy of the workflow. The real workflow then builds its trajectories, figure, claims
and report section, and checks its config like any other paper's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEY = "toy_descent"

MANIFEST = f'''
from sgdrepro.core.manifest import Experiment, Figure, Manifest

MANIFEST = Manifest(
    key="{KEY}",
    title="A toy paper: gradient descent on x^2 / 2",
    position=99,
    experiments=(Experiment("descent", "GD on x^2 / 2 over the step size grid"),),
    figures=(Figure("contraction", reads=("descent",), config=(), message="|x_t| against t, one line per step size"),),
)
'''

EXPERIMENTS = '''
import numpy as np
import xarray as xr


def run_descent(cfg, ctx):
    """x_t = (1 - eta)^t x_0, iterated (not in closed form), from a seeded random x_0 per seed."""
    rng = np.random.default_rng([ctx.root_seed, 7])
    lr = np.asarray(cfg["lr"], dtype=float)
    x = np.empty((lr.size, cfg["n_seeds"], cfg["n_steps"] + 1))
    x[..., 0] = rng.uniform(0.5, 2.0, size=cfg["n_seeds"])
    for t in range(cfg["n_steps"]):
        x[..., t + 1] = x[..., t] - lr[:, None] * x[..., t]
    return xr.Dataset(
        {"x": (("lr", "seed", "step"), x, {"units": "1", "long_name": "iterate"})},
        coords={"lr": ("lr", lr, {"units": "1", "long_name": "step size eta"}),
                "seed": np.arange(cfg["n_seeds"]), "step": np.arange(cfg["n_steps"] + 1)},
    )
'''

FIGURES = '''
from sgdrepro.core import new_figure


def plot_contraction(data, cfg):
    ds = data["descent"]
    fig, axes = new_figure(1, 1)
    for lr in ds["lr"].values:
        axes[0][0].semilogy(ds["step"], abs(ds["x"].sel(lr=lr).mean("seed")), label=f"eta = {lr:g}")
    axes[0][0].set_xlabel("step t")
    axes[0][0].legend()
    return fig, "Toy: |x_t| of GD on x^2 / 2 decays as |1 - eta|^t."
'''

CLAIMS = '''
import numpy as np

from sgdrepro.core.claims import Claim, mean_ci


def measure_claims(data, cfg):
    ds = data["descent"]
    claims = []
    for lr in ds["lr"].values:
        x = ds["x"].sel(lr=lr).values
        rate = np.abs(x[:, -1] / x[:, 0]) ** (1.0 / (x.shape[1] - 1))  # per seed
        claims.append(Claim.near(f"rate_lr{lr:g}", f"GD contracts by |1 - eta| per step at eta = {lr:g}",
                                 mean_ci(rate), abs(1.0 - lr), 1e-9))
    return claims
'''

SCHEMA = """
$schema: "https://json-schema.org/draft/2020-12/schema"
type: object
additionalProperties: false
properties:
  quick: {$ref: "#/$defs/scale"}
  paper: {$ref: "#/$defs/scale"}
$defs:
  scale:
    type: object
    additionalProperties: false
    properties:
      descent:
        type: object
        additionalProperties: false
        required: [lr, n_steps, n_seeds]
        properties:
          lr: {type: array, minItems: 1, items: {type: number, exclusiveMinimum: 0, exclusiveMaximum: 2}}
          n_steps: {type: integer, minimum: 1}
          n_seeds: {type: integer, minimum: 3}
"""

CONFIG = f"""
{KEY}:
  quick:
    descent: {{lr: [0.1, 0.5], n_steps: 40, n_seeds: 4}}
  paper:
    descent: {{lr: [0.1, 0.5, 1.5], n_steps: 400, n_seeds: 16}}
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("new_paper")
    workflow = root / "workflow_copy"
    workflow.mkdir()
    for part in ("Snakefile", "workflow", "config", "scripts", "profiles", "envs"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, workflow / part)
    before = sorted(str(p.relative_to(workflow)) for p in workflow.rglob("*") if p.is_file())
    package = root / "packages" / "sgdrepro" / KEY
    package.mkdir(parents=True)
    for name, text in {"__init__": '"""A toy paper."""\n', "manifest": MANIFEST, "experiments": EXPERIMENTS,
                       "figures": FIGURES, "claims": CLAIMS}.items():
        (package / f"{name}.py").write_text(text.lstrip())
    (workflow / "config" / f"{KEY}.yaml").write_text(CONFIG.lstrip())
    (workflow / "workflow" / "schemas" / f"{KEY}.schema.yaml").write_text(SCHEMA.lstrip())
    added = sorted(str(p.relative_to(workflow)) for p in workflow.rglob("*") if p.is_file())
    env = {**os.environ, "PYTHONHASHSEED": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "packages"), os.environ.get("PYTHONPATH")]))}
    return {"root": root, "workflow": workflow, "env": env, "added": sorted(set(added) - set(before))}


def snakemake(toy, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(toy["workflow"] / "Snakefile"), "-d", str(workdir),
           "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=toy["env"], cwd=toy["root"])


def test_the_workflow_copy_gained_only_the_config_file_and_the_schema(toy):
    assert toy["added"] == [f"config/{KEY}.yaml", f"workflow/schemas/{KEY}.schema.yaml"]


def test_a_new_paper_runs_through_the_real_workflow(toy):
    import xarray as xr

    workdir = toy["root"] / "run"
    result = snakemake(toy, workdir, "--config", f"papers={json.dumps([KEY])}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    results = workdir / "results" / KEY

    with xr.open_dataset(results / "data" / "descent.nc") as ds:
        assert ds["x"].dims == ("lr", "seed", "step") and ds["x"].shape == (2, 4, 41)
        assert ds.attrs["paper"] == KEY and ds.attrs["experiment"] == "descent"
    assert (results / "figures" / "contraction.pdf").stat().st_size > 0
    assert (results / "figures" / "contraction.png").stat().st_size > 0
    claims = json.loads((results / "claims.json").read_text())
    claims = claims["claims"] if isinstance(claims, dict) else claims
    assert {c["id"] for c in claims} == {"rate_lr0.1", "rate_lr0.5"}
    assert all(c["passed"] for c in claims), claims
    report = (workdir / "results" / "report.html").read_text()
    assert "A toy paper: gradient descent on x^2 / 2" in report and "2 of 2 pass" in report

    # Snakemake's own report holds the figure under its paper, with the figure's own caption
    archive = toy["root"] / "snakemake_report.zip"
    made = snakemake(toy, workdir, "--report", str(archive), "--config", f"papers={json.dumps([KEY])}")
    assert made.returncode == 0, (made.stdout + made.stderr)[-4000:]
    with zipfile.ZipFile(archive) as zipped:
        page = next(zipped.read(n).decode() for n in zipped.namelist() if n.endswith("report.html"))
    assert f"results/{KEY}/figures/contraction.png" in page
    assert "Toy: |x_t| of GD on x^2 / 2 decays as |1 - eta|^t." in page


def test_a_new_papers_config_is_validated_and_its_targets_are_known(toy):
    workdir = toy["root"] / "bad"
    bad = snakemake(toy, workdir, "-n", "--config", f"papers={json.dumps([KEY])}",
                    f'{KEY}={{"quick": {{"descent": {{"lr": [2.5]}}}}}}')
    assert bad.returncode != 0
    assert f"config key '{KEY}.quick.descent.lr[0]' = 2.5: must be < 2" in bad.stdout + bad.stderr

    typo = snakemake(toy, workdir, "-n", f"results/{KEY}/data/descnet.nc", "--config", f"papers={json.dumps([KEY])}")
    assert typo.returncode != 0 and "descnet" in typo.stdout + typo.stderr


def test_a_paper_without_its_config_file_stops_with_one_line(toy):
    config_file = toy["workflow"] / "config" / f"{KEY}.yaml"
    hidden = config_file.with_suffix(".hidden")
    config_file.rename(hidden)
    try:
        result = snakemake(toy, toy["root"] / "no_config", "-n")
    finally:
        hidden.rename(config_file)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sgdrepro config error: config key 'papers'" in out and f"missing: {config_file}" in out
    assert "Traceback" not in out
