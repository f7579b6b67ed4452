"""Config checks and the end-to-end workflow of large_step_sparse."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from sgdrepro.core.config import load_config

from sgdrepro.core import ConfigError
from sgdrepro.core.config import validate_schema
from sgdrepro.core.datasets import DatasetMissing
from sgdrepro.large_step_sparse import check_config

REPO = Path(__file__).resolve().parents[2]
# Claims that fail at the tiny size AND at quick scale, reported in claims.json as failed, not hidden
# (the tiny overlay runs the two-layer ReLU experiments at their quick step counts and 6 seeds, so these
# are the quick runs' verdicts; the three-layer ones at 2000 of 10001 steps fail as at quick scale).
KNOWN_FAILURES = frozenset({
    # A paper claim our draws do not reproduce. Our teacher-student setup matches the authors' code in every
    # scale convention (see relu.py); their large step 0.455 diverges within ~30 iterations on most draws in
    # their own code too (9 of their seeds 1-12), and neither 0.3 nor the surviving 0.455 runs, decayed, beat
    # the small constant step's test loss per draw (the test loss spreads over 2.5 decades across draws; the
    # authors report one draw; their own code on the other seeds where 0.455 survives, 5 and 7, loses too).
    "relu_ts_test_lower_after_decay",
    # the large-step run ends with a lower de-duplicated sparsity than the small step on 5 of 6 draws, not all
    "relu_ts_sparser_than_small_step",
    # the loss falls after the decay on every init, by 1.1 decades in the median but by less than one on 2 of 6
    "relu_1d_loss_stabilization",
    # the kept large step holds the loss above the decayed run on 5 of 6 draws, and the longest phase beats
    # the small step's test loss on 5 of 6 (quick scale: the same)
    "relu3_loss_stabilization",
    "relu3_test_lower_after_decay",
})
# Claims whose experiments run fewer than 6 seeds at the tiny size: passed null, with the reason.
_DIAGONAL_TINY = ("loss_stabilization", "plateau_grows_with_lr", "sparser_with_longer_phase_at50_vs_at10",
                  "test_lower_with_longer_phase", "sparser_than_small_step", "test_lower_after_decay",
                  "support_recovered", "support_better_than_small_step", "sgd_beats_gd", "nnz_fraction_paper_at10",
                  "test_loss_paper_at10", "nnz_fraction_paper_at50", "test_loss_paper_at50")
_DEEP = ("sparser_with_longer_phase", "test_error_lower_with_longer_phase", "sparser_than_small_step",
         "test_error_lower", "sparsity_falls_during_large_phase")
NOT_ASSESSABLE_TINY = frozenset([f"diagonal_{name}" for name in _DIAGONAL_TINY]
                                + [f"{prefix}_{name}" for prefix in ("deep", "deep_sota", "deep_densenet") for name in _DEEP])
FIGURES = ["diagonal_stabilization", "diagonal_decay", "diagonal_gd_vs_sgd", "relu_teacher_student", "relu_1d",
           "relu_three_layer", "deep_sparsity", "deep_sota_sparsity",
           "deep_densenet_sparsity"]


@pytest.fixture
def config():
    return load_config(REPO / "config")


def test_default_config_is_valid(config):
    validate_schema(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    check_config(config, "large_step_sparse.quick")


@pytest.mark.parametrize("key, value, fragment", [
    ("lr", [0.1, -0.2], "> 0"),
    ("decay_at", [1.5], "<= 1"),
    ("decay_factor", [0.5], ">= 1"),
    ("unknown_key", 3, "unknown key"),
])
def test_schema_names_key_value_and_allowed(config, key, value, fragment):
    bad = copy.deepcopy(config)
    bad["large_step_sparse"]["quick"]["diagonal_sgd"][key] = value
    with pytest.raises(ConfigError) as error:
        validate_schema(bad, REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert "large_step_sparse.quick.diagonal_sgd" in str(error.value) and fragment in str(error.value)


def test_semantic_checks(config):
    bad = copy.deepcopy(config)
    bad["large_step_sparse"]["quick"]["diagonal_sgd"]["decay_factor"] = [1.0]
    with pytest.raises(ConfigError, match="diagonal_sgd.decay_factor.*one entry per decay_at"):
        check_config(bad, "large_step_sparse.quick")
    bad = copy.deepcopy(config)
    bad["large_step_sparse"]["quick"]["diagonal_sgd"]["sparsity"] = 500
    with pytest.raises(ConfigError, match="sparsity.*<= d"):
        check_config(bad, "large_step_sparse.quick")
    bad = copy.deepcopy(config)
    bad["large_step_sparse"]["quick"]["diagonal_gd"]["n_seeds"] = 3
    with pytest.raises(ConfigError, match="diagonal_gd.n_seeds.*same problems"):
        check_config(bad, "large_step_sparse.quick")
    bad = copy.deepcopy(config)
    bad["large_step_sparse"]["quick"]["deep"]["blocks"] = [1]
    with pytest.raises(ConfigError, match="deep.blocks"):
        check_config(bad, "large_step_sparse.quick")


def test_paper_scale_without_cifar_fails_early(config, tmp_path):
    from sgdrepro.core.datasets import check_datasets

    config["scale"] = "paper"
    config["datasets_dir"] = str(tmp_path)
    check_config(config, "large_step_sparse.paper")  # the paper's own checks read no data set
    with pytest.raises(DatasetMissing, match="cifar-10-batches-py"):
        check_datasets(config, papers=["large_step_sparse"])
    config["large_step_sparse"]["paper"]["deep"]["dataset"] = "synthetic_cifar"
    with pytest.raises(DatasetMissing, match="cifar-10-batches-py"):  # deep_sota reads CIFAR-10 too
        check_datasets(config, papers=["large_step_sparse"])
    config["large_step_sparse"]["paper"]["deep_sota"]["dataset"] = "synthetic_cifar"
    with pytest.raises(DatasetMissing, match="cifar-100-python"):  # deep_densenet: CIFAR-100
        check_datasets(config, papers=["large_step_sparse"])
    config["large_step_sparse"]["paper"]["deep_densenet"]["dataset"] = "synthetic_cifar"
    check_datasets(config, papers=["large_step_sparse"])  # the stand-in needs no files


@pytest.mark.slow
def test_workflow_end_to_end(paper_outputs):
    """The session's tiny DAG (conftest) built every figure; the claims with too few seeds there are
    exactly the not-assessable ones, and every other claim passed but the known failures."""
    claims = paper_outputs("large_step_sparse", FIGURES, 40, known_failures=KNOWN_FAILURES,
                           not_assessable=NOT_ASSESSABLE_TINY, caption_contains="paper's figure number")
    assert KNOWN_FAILURES <= {c["id"] for c in claims if c["passed"] is False}, "a known failure now passes: update the list"
