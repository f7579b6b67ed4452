"""Every paper's claims follow one contract (sgdrepro.core.claims):

- each claims module lists, in ``CLAIM_IDS``, a regex for every claim id it can emit, and every id
  the session's tiny DAG emitted matches exactly one of them;
- each paper's ``tests/<paper>/test_<paper>_falsify.py`` holds a ``FALSIFIERS`` entry for every one
  of those patterns: a case where the paper's effect is absent and the claim must fail;
- every emitted claim carries its kind, evidence, interval and margin, and none passes on a tie;
- config/test.yaml shrinks sizes only: it holds no claim threshold (nothing under ``claims`` or
  ``analysis``), so the tiny run is judged by the thresholds a user's run is.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import PAPERS, tiny_papers
from sgdrepro.core.config import load_config

REPO = Path(__file__).resolve().parents[2]


def _falsify_module(paper: str):
    path = REPO / "tests" / paper / f"test_{paper}_falsify.py"
    assert path.exists(), f"{paper}: no falsifying tests at {path.relative_to(REPO)}"
    spec = importlib.util.spec_from_file_location(f"_falsify_{paper}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("paper", PAPERS)
def test_every_claim_id_has_a_falsifying_case(paper):
    patterns = importlib.import_module(f"sgdrepro.{paper}.claims").CLAIM_IDS
    assert len(set(patterns)) == len(patterns)
    falsifiers = _falsify_module(paper).FALSIFIERS
    assert set(falsifiers) == set(patterns), {"without a falsifier": sorted(set(patterns) - set(falsifiers)),
                                              "not a claim id": sorted(set(falsifiers) - set(patterns))}


@pytest.mark.slow
@pytest.mark.parametrize("paper", PAPERS)
def test_emitted_claims_follow_the_contract(tiny_results, paper):
    if paper not in tiny_papers():
        pytest.skip(f"{paper} is not in SGDREPRO_TEST_PAPERS")
    patterns = importlib.import_module(f"sgdrepro.{paper}.claims").CLAIM_IDS
    claims = json.loads((tiny_results / paper / "claims.json").read_text())
    for claim in claims:
        hits = [p for p in patterns if re.fullmatch(p, claim["id"])]
        assert len(hits) == 1, (claim["id"], hits)
        assert claim["kind"] in ("theory", "paper", "ordering"), claim["id"]
        assert claim["statement"] and claim["ci_method"] and claim["evidence"] is not None, claim["id"]
        assert isinstance(claim["ci"], list) and len(claim["ci"]) == 2, claim["id"]
        if claim["passed"] and claim["kind"] == "ordering":
            lo, hi = claim["ci"]
            tie = claim["expected"]
            assert (hi < tie) if claim["relation"] == "<" else (lo > tie), claim["id"]


def _keys(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield path + (key,)
            yield from _keys(value, path + (key,))


def test_test_overlay_changes_no_threshold():
    overlay = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    thresholds = [".".join(map(str, k)) for k in _keys(overlay) if k[-1] in ("claims", "analysis")]
    assert not thresholds, f"config/test.yaml sets claim thresholds: {thresholds}"


class _Only(dict):
    """The trajectories a claim group declares it reads; reading any other is an error."""

    def __init__(self, data, reads):
        super().__init__({name: data[name] for name in reads})
        self.reads = reads

    def __getitem__(self, name):
        if name not in self.reads:
            raise AssertionError(f"reads {name!r}, not among its declared {self.reads}")
        return super().__getitem__(name)

    def get(self, name, default=None):
        return self[name] if name in self.reads else default


@pytest.mark.slow
@pytest.mark.parametrize("paper", PAPERS)
def test_claim_groups_read_only_what_they_declare(tiny_results, paper):
    """A paper scale measures the groups of the jobs that ran whole (benchmarks/paper_scale.py):
    that is right only if a group's ``reads`` are all it reads. Together the groups give exactly
    the claims of ``measure_claims``, in its order."""
    if paper not in tiny_papers():
        pytest.skip(f"{paper} is not in SGDREPRO_TEST_PAPERS")
    import xarray as xr

    from sgdrepro.core.claims import measure_groups

    module = importlib.import_module(f"sgdrepro.{paper}.claims")
    data_dir = tiny_results / paper / "data"
    data = {path.stem: xr.load_dataset(path) for path in sorted(data_dir.glob("*.nc"))}
    cfg = _tiny_config()[paper]["quick"]
    per_group = []
    for group in module.CLAIM_GROUPS:
        assert set(group.reads) <= set(data), (group.reads, sorted(data))
        per_group.append([claim.id for claim in group.measure(_Only(data, group.reads), cfg)])
    expected = [claim["id"] for claim in json.loads((tiny_results / paper / "claims.json").read_text())]
    assert [i for ids in per_group for i in ids] == expected
    first = module.CLAIM_GROUPS[0]
    only_first = [c.id for c in measure_groups(module.CLAIM_GROUPS, data, cfg, experiments=first.reads)]
    assert only_first == per_group[0]
    assert measure_groups(module.CLAIM_GROUPS, data, cfg, experiments=()) == []


def _tiny_config() -> dict:
    return load_config(REPO / "config", overlays=(REPO / "config" / "test.yaml",))
