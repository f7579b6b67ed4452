"""Property tests (hypothesis) of the small pure pieces of the spine."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgdrepro.core import log_spaced_steps, strided_steps
from sgdrepro.core.seeding import _mulhilo

word = st.integers(min_value=0, max_value=2**32 - 1)


@given(st.sampled_from([0xD2511F53, 0xCD9E8D57]), st.lists(word, min_size=1, max_size=64))
@settings(max_examples=200, deadline=None)
def test_mulhilo_matches_exact_integer_product(multiplier, xs):
    hi, lo = _mulhilo(multiplier, torch.tensor(xs, dtype=torch.int64))
    for x, h, l in zip(xs, hi.tolist(), lo.tolist()):
        assert (h << 32) | l == multiplier * x


@given(st.integers(1, 10**7), st.integers(2, 200))
@settings(max_examples=200, deadline=None)
def test_log_spaced_steps_are_sorted_unique_and_in_range(n_steps, n_points):
    steps = log_spaced_steps(n_steps, n_points)
    assert steps[0] == 0 and steps[-1] == n_steps
    assert (np.diff(steps) > 0).all() and len(steps) <= n_points + 1


@given(st.integers(0, 1000), st.integers(0, 5000), st.integers(1, 100))
def test_strided_steps(start, length, stride):
    steps = strided_steps(start, start + length, stride)
    assert len(steps) == length // stride + 1 and (np.diff(steps) == stride).all()
