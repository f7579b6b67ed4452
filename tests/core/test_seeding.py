"""Counter-based seeding: known answers, independence from batching, distribution."""

import numpy as np
import pytest
import torch
from scipy import stats

from sgdrepro.core import Grid, RunRandom, run_keys
from sgdrepro.core.seeding import philox4x32


def _philox(counter, key):
    out = philox4x32([torch.tensor([c]) for c in counter], [torch.tensor([k]) for k in key])
    return [int(v) for v in out]


@pytest.mark.parametrize(
    "counter, key, expected",
    [  # known-answer vectors of Philox4x32-10 (Random123's kat_vectors)
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ],
)
def test_philox_known_answers(counter, key, expected):
    assert _philox(counter, key) == expected


def test_run_randomness_does_not_depend_on_batch_composition():
    grid = Grid.from_config({"lr": [0.1, 0.2, 0.3], "seed": [0, 1, 2, 3]})
    keys = run_keys("demo", grid.points())
    full = RunRandom(keys).normal("data", step=7, shape=(5, 3))
    for index in ([5], [0, 11], list(range(3, 9))):
        alone = RunRandom(keys[index]).normal("data", step=7, shape=(5, 3))
        assert torch.equal(alone, full[index])
    # and a subset generator (a chunk) is the same as building from the chunk's keys
    assert torch.equal(RunRandom(keys).subset([2, 4]).uniform("x", 3, (4,)), RunRandom(keys[[2, 4]]).uniform("x", 3, (4,)))


def test_keys_distinct_per_point_and_seed_and_reproducible():
    grid = Grid.from_config({"lr": [0.1, 0.2], "batch_size": [1, 5], "seed": [0, 1, 2]})
    keys = run_keys("demo", grid.points(), root_seed=3)
    assert len({tuple(k) for k in keys}) == grid.size
    assert np.array_equal(keys, run_keys("demo", grid.points(), root_seed=3))
    assert not np.array_equal(keys, run_keys("demo", grid.points(), root_seed=4))
    assert not np.array_equal(keys, run_keys("other", grid.points(), root_seed=3))


def test_key_dims_share_randomness_across_other_dims():
    grid = Grid.from_config({"lr": [0.1, 0.2, 0.5], "seed": [0, 1]})
    keys = run_keys("demo", grid.points(), key_dims=("seed",)).reshape(3, 2, 2)
    assert (keys == keys[:1]).all()  # same key for every lr at a given seed
    assert not np.array_equal(keys[0, 0], keys[0, 1])


def test_streams_and_steps_differ():
    rng = RunRandom(run_keys("demo", [{"seed": 0}]))
    a = rng.uniform("a", 0, (64,))
    assert not torch.equal(a, rng.uniform("b", 0, (64,)))
    assert not torch.equal(a, rng.uniform("a", 1, (64,)))
    assert torch.equal(a, rng.uniform("a", 0, (64,)))


def test_normal_and_uniform_distributions():
    rng = RunRandom(run_keys("demo", [{"seed": s} for s in range(4)]))
    z = rng.normal("z", 0, (50_000,)).numpy().ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    u = rng.uniform("u", 0, (50_000,)).numpy().ravel()
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    u32 = rng.uniform("u", 0, (20_000,), dtype=torch.float32).numpy().ravel()
    assert stats.kstest(u32, "uniform").pvalue > 1e-3


def test_randint_and_permutation():
    rng = RunRandom(run_keys("demo", [{"seed": s} for s in range(3)]))
    high = torch.tensor([1, 5, 1000])
    ints = rng.randint("i", 0, (4000,), high)
    assert (ints >= 0).all() and (ints < high[:, None]).all()
    assert set(ints[1].tolist()) == set(range(5))
    perm = rng.permutation("p", 0, 10)
    assert all(sorted(row.tolist()) == list(range(10)) for row in perm)
    assert not torch.equal(perm[0], perm[1])
