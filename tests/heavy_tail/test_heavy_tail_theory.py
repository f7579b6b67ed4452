"""Theory of the tail index: quadrature, closed-form border, monotonicity, Monte Carlo cross-check."""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

from sgdrepro.heavy_tail import tail_index
from sgdrepro.heavy_tail.theory import (
    h_moment,
    h_moment_quad,
    lyapunov_exponent,
    second_moment,
    tail_index_mc,
    variance_border_lr,
)


def _direct_root_d1(eta, b, sigma):
    """alpha for d = 1 straight from the definition: E|1 - (eta/b) sigma^2 U|^s = 1, U ~ chi2_b."""
    c = eta * sigma**2 / b
    log_norm = -special.gammaln(b / 2) - (b / 2) * math.log(2.0)

    def moment(s):
        f = lambda u: abs(1 - c * u) ** s * math.exp((b / 2 - 1) * math.log(u) - u / 2 + log_norm) if u > 0 else 0.0
        return sum(integrate.quad(f, lo, hi, limit=200)[0] for lo, hi in [(0, 1 / c), (1 / c, np.inf)])
    return optimize.brentq(lambda s: moment(s) - 1.0, 0.05, 30.0, xtol=1e-8)


@pytest.mark.parametrize("eta,b,sigma", [(0.5, 1, 1.0), (1.0, 1, 1.0), (0.9, 3, 1.0), (0.3, 1, 1.5)])
def test_d1_root_matches_direct_quadrature(eta, b, sigma):
    assert tail_index(eta, b, 1, sigma) == pytest.approx(_direct_root_d1(eta, b, sigma), rel=1e-6)


@pytest.mark.parametrize("b,d,sigma", [(1, 1, 1.0), (3, 1, 1.0), (1, 2, 1.0), (2, 2, 1.0), (4, 2, 1.0), (2, 10, 1.0),
                                       (5, 10, 0.7), (20, 100, 1.0)])
def test_alpha_is_two_at_the_closed_form_border(b, d, sigma):
    """The root finder and the closed form h(2) = 1 - 2 eta sigma^2 + eta^2 sigma^4 (d+b+1)/b agree on
    the border eta* = 2b/(sigma^2 (d+b+1)), the quick grid's batch sizes (d = 2) included: a
    consistency check of the code (no data), so a test rather than a claim."""
    eta = float(variance_border_lr(b, d, sigma))
    assert second_moment(eta, b, d, sigma) == pytest.approx(1.0, abs=1e-14)
    assert tail_index(eta, b, d, sigma) == pytest.approx(2.0, abs=1e-7)
    # alpha is above 2 just below the border; just above it alpha < 2, or in high d (sharp transition)
    # the recursion already stops contracting (nan)
    assert tail_index(0.95 * eta, b, d, sigma) > 2.0
    above = tail_index(1.05 * eta, b, d, sigma)
    assert math.isnan(above) or above < 2.0


@pytest.mark.parametrize("eta,b,d", [(0.5, 3, 1), (0.7, 1, 1), (0.4, 5, 2), (0.15, 1, 10), (0.5, 20, 100)])
def test_node_rule_matches_adaptive_quadrature_and_closed_form(eta, b, d):
    for s in (0.3, 1.0, 2.5, 7.0):
        assert h_moment(s, eta, b, d) == pytest.approx(h_moment_quad(s, eta, b, d), rel=1e-9)
    assert h_moment(2.0, eta, b, d) == pytest.approx(float(second_moment(eta, b, d)), rel=1e-10)


def test_monotone_in_eta_b_sigma_d():
    etas = np.linspace(0.2, 0.9, 8)
    along_eta = [tail_index(e, 2, 2) for e in etas]
    assert np.all(np.diff(along_eta) < 0)
    along_b = [tail_index(0.6, b, 2) for b in (1, 2, 3, 4, 8)]
    assert np.all(np.diff(along_b) > 0)
    along_sigma = [tail_index(0.4, 2, 2, s) for s in (0.8, 1.0, 1.2, 1.4)]
    assert np.all(np.diff(along_sigma) < 0)
    along_d = [tail_index(0.4, 2, d) for d in (1, 2, 3, 5, 8)]
    assert np.all(np.diff(along_d) < 0)


def test_depends_on_eta_sigma_only_through_eta_sigma_squared():
    assert tail_index(0.4, 2, 3, 1.5) == pytest.approx(tail_index(0.9, 2, 3, 1.0), rel=1e-9)


def test_non_contracting_gives_nan_and_tiny_steps_give_inf():
    assert lyapunov_exponent(1.2, 1, 2) > 0 and math.isnan(tail_index(1.2, 1, 2))
    assert math.isinf(tail_index(0.001, 4, 2))


@pytest.mark.parametrize("eta,b,d", [(0.5, 2, 2), (0.3, 2, 10), (0.8, 4, 5)])
def test_monte_carlo_agrees_within_its_stated_error(eta, b, d):
    alpha_mc, stderr = tail_index_mc(eta, b, d, n_samples=1 << 18)
    assert stderr > 0
    assert abs(alpha_mc - tail_index(eta, b, d)) <= 4.0 * stderr


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        tail_index(-0.1, 1, 1)
    with pytest.raises(ValueError):
        tail_index(0.1, 0, 1)
