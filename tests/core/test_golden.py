"""The tiny DAG's numbers equal the committed golden table, on whatever x86-64 machine runs the suite.

tests/golden/tiny.json holds a digest of every trajectory variable and every claim of the tiny
DAG (config/test.yaml) in portable numerics (sgdrepro.core.digests), made once with
``python scripts/golden.py write``. A change of the numbers on purpose regenerates it in the same
commit; anything else that changes them (another CPU, an unpinned code path) fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import PAPERS, tiny_papers
from sgdrepro.core.digests import array_digest, compare, tree_digests

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "tests" / "golden" / "tiny.json"


@pytest.mark.slow
def test_tiny_dag_matches_the_golden_digests(tiny_results):
    if tiny_papers() != PAPERS:
        pytest.skip("SGDREPRO_TEST_PAPERS narrows the tiny DAG: the golden table covers every paper")
    golden = json.loads(TABLE.read_text())
    diff = compare(golden["entries"], tree_digests(tiny_results))
    shown = {key: (old.get("mean", old.get("measured")), new.get("mean", new.get("measured")))
             for key, (old, new) in list(diff["changed"].items())[:15]}
    assert diff.identical, (
        f"{len(diff['changed'])} entries differ from {TABLE.name} (golden -> here, means or measured values): "
        f"{shown}; missing here {diff['missing'][:10]}, not in the table {diff['extra'][:10]}. If the numbers "
        "changed on purpose, run `python scripts/golden.py write` and commit the table with the reason.")


def test_golden_table_covers_every_paper():
    entries = json.loads(TABLE.read_text())["entries"]
    for paper in PAPERS:
        assert any(k.startswith(f"{paper}/data/") for k in entries), paper
        assert any(k.startswith(f"{paper}/claims.json::") for k in entries), paper


def test_array_digest_sees_values_not_storage():
    a = np.array([[1.0, np.nan], [3.0, 4.0]])
    assert array_digest(a, ("x", "y")) == array_digest(np.asfortranarray(a), ("x", "y"))
    assert array_digest(a, ("x", "y")) == array_digest(a.astype(">f8"), ("x", "y"))
    other_nan = a.copy()
    other_nan.view(np.uint64)[0, 1] = 0x7FF8000000000001  # another NaN payload: the same value
    assert array_digest(a, ("x", "y")) == array_digest(other_nan, ("x", "y"))
    bumped = a.copy()
    bumped[1, 1] = np.nextafter(4.0, 5.0)  # one ulp
    assert array_digest(a, ("x", "y")) != array_digest(bumped, ("x", "y"))
    assert array_digest(a, ("x", "y")) != array_digest(a, ("y", "x"))
    assert array_digest(a, ("x", "y")) != array_digest(a.astype(np.float32), ("x", "y"))


def _tree(root: Path, value: float, measured: float) -> Path:
    import xarray as xr

    from sgdrepro.core import write_claims
    from sgdrepro.core.claims import Claim, mean_ci
    from sgdrepro.core.store import write_dataset

    ds = xr.Dataset({"loss": (("step",), np.array([1.0, 0.5, value]), {"units": "1", "long_name": "loss"})},
                    coords={"step": [0, 1, 2]})
    write_dataset(ds, root / "results" / "p" / "data" / "e.nc", {"git_commit": str(value)})
    write_claims([Claim.near("c", "a claim", mean_ci([measured, measured + 0.1, measured - 0.1]), 1.0, 0.5)],
                 root / "results" / "p" / "claims.json")
    return root


def test_golden_script_checks_and_explains(tmp_path):
    import subprocess
    import sys

    script, table = REPO / "scripts" / "golden.py", tmp_path / "table.json"

    def run(*args):
        return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True)

    assert run("write", "--results", _tree(tmp_path / "a", 0.25, 1.0), "--table", table).returncode == 0
    same = run("check", "--results", _tree(tmp_path / "b", 0.25, 1.0), "--table", table)
    assert same.returncode == 0 and "identical: all 3 digests" in same.stdout, same.stdout + same.stderr
    data = run("check", "--results", _tree(tmp_path / "c", 0.125, 1.0), "--table", table)
    assert data.returncode == 1 and "1 trajectory variables differ" in data.stdout, data.stdout
    assert "p/data/e.nc::loss" in data.stdout
    claims = run("check", "--results", _tree(tmp_path / "d", 0.25, 1.2), "--table", table)
    assert claims.returncode == 1 and "only claim numbers differ" in claims.stdout, claims.stdout
