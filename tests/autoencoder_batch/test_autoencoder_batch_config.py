"""Bad configuration values fail before any job with the key, the value and what is allowed."""

import copy
from pathlib import Path

import pytest

from sgdrepro.core.config import load_config

from sgdrepro.autoencoder_batch import check_config, train
from sgdrepro.core import ConfigError
from sgdrepro.core.config import validate_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config():
    config = load_config(REPO / "config")
    config["papers"] = ["autoencoder_batch"]
    return config


def _quick(config):
    return config["autoencoder_batch"]["quick"]


def test_default_config_is_valid(config, tmp_path):
    validate_config(config, SCHEMA, results_dir=str(tmp_path))


@pytest.mark.parametrize(
    "edit,key,match",
    [
        (lambda q: q["orthogonal"].__setitem__("batch_size", [1, 2, 9]), "autoencoder_batch.quick.orthogonal.batch_size[2]", "1..n"),
        (lambda q: q["orthogonal"].__setitem__("d", 4), "autoencoder_batch.quick.orthogonal.d", ">= n"),
        (lambda q: q["orthogonal"].__setitem__("batch_size", [1, 2, 3]), "autoencoder_batch.quick.orthogonal.batch_size", "full batch"),
        (lambda q: q["figures"].__setitem__("trajectory_batch_sizes", [5, 11]),
         "autoencoder_batch.quick.figures.trajectory_batch_sizes[1]", "one of"),
        (lambda q: q["figures"].__setitem__("trajectory_seed", 99), "autoencoder_batch.quick.figures.trajectory_seed", "seeds"),
    ],
)
def test_semantic_errors_name_the_key(config, edit, key, match):
    config = copy.deepcopy(config)
    edit(_quick(config))
    with pytest.raises(ConfigError, match=match) as info:
        check_config(config, "autoencoder_batch.quick")
    assert info.value.key == key


@pytest.mark.parametrize(
    "edit,key",
    [
        (lambda q: q["orthogonal"].__setitem__("lr", -0.1), "autoencoder_batch.quick.orthogonal.lr"),
        (lambda q: q["orthogonal"].__setitem__("order", ["random"]), "autoencoder_batch.quick.orthogonal.order[0]"),
        (lambda q: q["orthogonal"].__setitem__("batchsize", [1]), "autoencoder_batch.quick.orthogonal.batchsize"),
        (lambda q: q["orthogonal"].__setitem__("last_batch", "partial"), "autoencoder_batch.quick.orthogonal.last_batch"),
    ],
)
def test_schema_errors_name_the_key(config, edit, key, tmp_path):
    config = copy.deepcopy(config)
    edit(_quick(config))
    with pytest.raises(ConfigError) as info:
        validate_config(config, SCHEMA, results_dir=str(tmp_path))
    assert info.value.key == key


def test_train_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="batch_size"):
        train(4, 6, 5, 0.1, 10, seed=0)
    with pytest.raises(ConfigError, match="activation"):
        train(4, 6, 2, 0.1, 10, seed=0, activation="tanh")
