"""Closed forms of theory.py against direct evaluation, and the paper's effects on small runs."""

import numpy as np
import pytest
import torch

from sgdrepro.autoencoder_batch import measures, theory, train
from sgdrepro.autoencoder_batch.model import loss, orthonormal_data

DT = torch.float64


def _data(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return orthonormal_data(torch.randn(d, n, generator=g, dtype=DT), n), g


@pytest.mark.parametrize("relu", [False, True])
def test_global_minimum_value_and_lower_bound(relu):
    n, d = 5, 8
    X, g = _data(n, d)
    flags = torch.full((2000,), relu)
    # unit vectors of the data span (nonnegative coordinates for ReLU) are global minima
    c = torch.randn(2000, n, generator=g, dtype=DT)
    c = c.abs() if relu else c
    w = (c / c.norm(dim=-1, keepdim=True)) @ X
    assert torch.allclose(loss(w, X, flags), torch.full((2000,), theory.global_min_loss(n), dtype=DT), atol=1e-14)
    # nothing goes below: random points at every scale, in and off the span
    w = torch.randn(2000, d, generator=g, dtype=DT) * torch.logspace(-2, 0.5, 2000, dtype=DT).unsqueeze(1)
    assert loss(w, X, flags).min() >= theory.global_min_loss(n) - 1e-14


@pytest.mark.parametrize("relu,k", [(False, 5), (True, 1), (True, 3), (True, 5)])
def test_trace_hessian_closed_form_at_global_minima(relu, k):
    n, d = 5, 9
    X, g = _data(n, d, seed=1)
    c = torch.zeros(50, n, dtype=DT)
    c[:, :k] = torch.rand(50, k, generator=g, dtype=DT) + 0.1  # k positive coordinates
    if not relu:
        c = torch.randn(50, n, generator=g, dtype=DT)
    w = (c / c.norm(dim=-1, keepdim=True)) @ X
    # the ReLU branch: the zero coordinates are inactive (w^T x_i is only 0 up to rounding)
    tr = measures.trace_hessian(w, X, torch.full((50,), relu), active=c > 0)
    expected = theory.trace_hessian_global_min(n, d, k, relu)
    assert torch.allclose(tr, torch.full((50,), float(expected), dtype=DT), atol=1e-11)


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_gradient_descent_converges_to_the_projected_initialization(activation):
    n, d = 6, 10
    run = train(n, d, n, 0.2, 1000, seed=5, activation=activation)
    c0 = run.w0 @ run.X.T
    np.testing.assert_allclose(run.coords[-1], theory.gd_limit_coordinates(c0, activation == "relu"), atol=1e-9)
    assert abs(run.loss[-1] - theory.global_min_loss(n)) < 1e-12
    assert run.measures["cos_init_active"] == pytest.approx(1.0, abs=1e-9)


def test_small_batch_ends_sparse_at_a_global_minimum():
    n, d = 4, 6
    for b in (1, 2, 3):
        run = train(n, d, b, 0.2, 4000, seed=1, activation="linear")
        assert run.measures["count_above"] == 1, (b, run.coords[-1])
        assert abs(run.loss[-1] - theory.global_min_loss(n)) < 1e-10


def test_cyclic_order_keeps_ratios_within_a_batch():
    """With a fixed partition the coordinates of one batch are always scaled by the same factor:
    the limit lies in one batch, with the initial ratios of its coordinates."""
    n, d, b = 6, 8, 2
    run = train(n, d, b, 0.2, 4000, seed=2, activation="linear", order="cyclic")
    c0, c = run.coords[0], run.coords[-1]
    support = np.flatnonzero(np.abs(c) > 1e-4)
    assert len(support) <= b and len(set(support // b)) == 1
    for j in range(0, n, b):  # every batch keeps its ratios at every recorded step
        ratios = run.coords[:, j] * c0[j + 1] - run.coords[:, j + 1] * c0[j]
        assert np.allclose(ratios, 0, atol=1e-12)
    assert abs(run.loss[-1] - theory.global_min_loss(n)) < 1e-10


def test_relu_trace_at_the_end_point_is_larger_for_small_batches():
    """At the end points themselves (no reconstructed limit), with the losers at the rounding floor."""
    n, d = 6, 8
    seed = next(s for s in range(20) if train(n, d, n, 0.2, 1, seed=s, activation="relu").measures["n_active_init"] >= 3)
    gd = train(n, d, n, 0.2, 3000, seed=seed, activation="relu").measures
    sgd = train(n, d, 1, 0.2, 3000, seed=seed, activation="relu").measures
    k = gd["n_active_init"]
    assert gd["n_active_final"] == k and sgd["n_active_final"] == 1
    assert gd["trace_hessian"] == pytest.approx(theory.trace_hessian_global_min(n, d, k, True), abs=1e-9)
    assert sgd["trace_hessian"] == pytest.approx(theory.trace_hessian_global_min(n, d, 1, True), abs=1e-9)
    assert sgd["trace_hessian"] - gd["trace_hessian"] == pytest.approx(2 * (k - 1) / n, abs=1e-9)


@pytest.mark.parametrize("relu", [False, True])
def test_excess_loss_is_the_loss_minus_its_minimum(relu):
    """The cancellation-free form equals L - L* wherever the direct difference is resolved."""
    n, d = 5, 8
    X, g = _data(n, d, seed=2)
    w = torch.randn(500, d, generator=g, dtype=DT) * torch.logspace(-1.5, 0.3, 500, dtype=DT).unsqueeze(1)
    flags = torch.full((500,), relu)
    direct = loss(w, X, flags) - theory.global_min_loss(n)
    assert torch.allclose(measures.excess_loss(w, X, flags), direct, rtol=1e-10, atol=1e-14)
    # and at a global minimum it sits far below the float64 resolution of L
    c = torch.rand(1, n, generator=g, dtype=DT)
    w_star = (c / c.norm()) @ X
    assert measures.excess_loss(w_star, X, flags[:1]).item() < 1e-28


def test_sine_and_second_ratio():
    u = torch.tensor([[1.0, 1e-9, 0.0], [0.0, 3.0, 4.0]], dtype=DT)
    v = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=DT)
    assert torch.allclose(measures.sine(u, v), torch.tensor([1e-9, 0.6], dtype=DT), rtol=1e-6)
    c = torch.tensor([[0.0, -0.5, 1.0, 1e-3], [2.0, 2.0, 0.0, 0.0]], dtype=DT)
    assert torch.allclose(measures.second_ratio(c), torch.tensor([0.5, 1.0], dtype=DT))


def test_active_branch_counts_rounding_floor_as_zero():
    """A coordinate at the rounding floor is on the kink (ReLU'(0) = 0): its sign does not move the trace."""
    n, d = 4, 6
    X, _ = _data(n, d, seed=3)
    w = (torch.tensor([[1.0, 3e-16, -2e-16, 1e-6]], dtype=DT)) @ X
    assert measures.active_branch(w, X).tolist() == [[True, False, False, True]]
    flipped = (torch.tensor([[1.0, -3e-16, 2e-16, 1e-6]], dtype=DT)) @ X
    relu = torch.tensor([True])
    assert measures.trace_hessian(w, X, relu).item() == pytest.approx(measures.trace_hessian(flipped, X, relu).item(), abs=1e-12)
