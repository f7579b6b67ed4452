"""Config checks and the end-to-end workflow of large_step_sparse."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from sgdrepro.core import ConfigError
from sgdrepro.core.config import validate_schema
from sgdrepro.core.datasets import DatasetMissing
from sgdrepro.large_step_sparse import check_config

REPO = Path(__file__).resolve().parents[2]
# A paper claim our draws do not reproduce (reported in claims.json as failed, not hidden). Our
# teacher-student setup matches the authors' code in every scale convention (see relu.py); their
# large step 0.455 diverges within ~30 iterations on most draws in their own code too (9 of their
# seeds 1-12), and over 16 draws at their 14126 steps neither 0.3 nor the surviving 0.455 runs,
# decayed, beat the small constant step's test loss in the paired median (the test loss spreads
# over 2.5 decades across draws; the authors report one draw). Their own code on the other seeds
# where 0.455 survives (5, 7, 11), decayed by 5 at 50 %, loses to 0.13 on 5 and 7.
KNOWN_NOT_REPRODUCED = {"relu_ts_test_lower_after_decay"}
FIGURES = ["diagonal_stabilization", "diagonal_decay", "diagonal_gd_vs_sgd", "relu_teacher_student", "relu_1d",
           "relu_three_layer", "deep_sparsity", "deep_sota_sparsity",
           "deep_densenet_sparsity"]


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


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
    bad["large_step_sparse"]["quick"]["deep"]["blocks"] = [1]
    with pytest.raises(ConfigError, match="deep.blocks"):
        check_config(bad, "large_step_sparse.quick")


def test_paper_scale_without_cifar_fails_early(config, tmp_path):
    config["scale"] = "paper"
    config["datasets_dir"] = str(tmp_path)
    with pytest.raises(DatasetMissing, match="cifar-10-batches-py"):
        check_config(config, "large_step_sparse.paper")
    config["large_step_sparse"]["paper"]["deep"]["dataset"] = "synthetic_cifar"
    with pytest.raises(DatasetMissing, match="cifar-10-batches-py"):  # deep_sota reads CIFAR-10 too
        check_config(config, "large_step_sparse.paper")
    config["large_step_sparse"]["paper"]["deep_sota"]["dataset"] = "synthetic_cifar"
    with pytest.raises(DatasetMissing, match="cifar-100-python"):  # deep_densenet: CIFAR-100
        check_config(config, "large_step_sparse.paper")
    config["large_step_sparse"]["paper"]["deep_densenet"]["dataset"] = "synthetic_cifar"
    check_config(config, "large_step_sparse.paper")  # the stand-in needs no files


@pytest.mark.slow
def test_workflow_end_to_end(paper_outputs):
    """The session's tiny DAG (conftest) built every figure, and every claim but the known one passed."""
    paper_outputs("large_step_sparse", FIGURES, 30, known_failures=KNOWN_NOT_REPRODUCED,
                  caption_contains="paper's figure number")
