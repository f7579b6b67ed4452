"""Counter-based seeding: known answers, independence from batching, distribution."""

import shutil
import sysconfig

import numpy as np
import pytest
import torch
from scipy import stats

from sgdrepro.core import Grid, RunRandom, run_keys
from sgdrepro.core import seeding
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


def test_compiled_words_are_built_where_a_compiler_is():
    # an install on a machine with a C compiler must not fall back silently to the slow path
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) on this machine: the torch path is the only one")
    assert seeding._compiled_philox is not None, "pip install -e . did not build sgdrepro.core._philox"


@pytest.mark.skipif(seeding._compiled_philox is None, reason="sgdrepro.core._philox not built")
@pytest.mark.parametrize("n_runs", [0, 1, 7])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 1001])
def test_compiled_streams_equal_torch_ops(monkeypatch, n_runs, n):
    keys = run_keys("demo", [{"seed": s} for s in range(n_runs)]) if n_runs else np.zeros((0, 2), np.uint32)
    rr = RunRandom(keys)
    draws = {
        "bits": lambda stream, step: rr.bits(stream, step, n),
        "uniform64": lambda stream, step: rr.uniform(stream, step, (n,)),
        "uniform32": lambda stream, step: rr.uniform(stream, step, (n,), torch.float32),
        "normal": lambda stream, step: rr.normal(stream, step, (n,)),
    }
    counters = (("data", 0), ("batch", 17), (5, 2**32 + 3), (0xFFFFFFFF, 2**64 - 1))
    compiled = {(name, c): draw(*c) for name, draw in draws.items() for c in counters}
    monkeypatch.setattr(seeding, "_compiled_philox", None)
    for (name, c), value in compiled.items():
        reference = draws[name](*c)
        assert value.dtype == reference.dtype and value.shape == reference.shape == (n_runs, n), (name, c)
        assert torch.equal(value, reference), (name, c)  # bit for bit, floats included


def test_words_known_answer_and_ranges():
    # counter (0, 0, 0, 0) and key (0, 0): the first known-answer vector, through RunRandom
    assert RunRandom(np.zeros((1, 2), np.uint32)).bits(0, 0, 4).tolist() == [[0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]]
    rr = RunRandom(run_keys("demo", [{"seed": 0}]))
    for bad in ({"stream": -1, "step": 0}, {"stream": 2**32, "step": 0}, {"stream": "x", "step": 2**64}, {"stream": "x", "step": -1}):
        with pytest.raises(ValueError, match="stream|step"):
            rr.bits(n_words=4, **bad)


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
