"""Figures re-render byte-identically with their caption; claims derive pass/fail."""

import hashlib
import json
import time

import numpy as np
import pytest

from sgdrepro.core import Claim, new_figure, read_claims, save_figure, write_claims
from sgdrepro.core.claims import bootstrap_ci, fraction_ci, grid_bracket, mean_ci, median_ci, paired, slope_ci
from sgdrepro.core.figures import read_caption


def _render(path, caption):
    fig, axes = new_figure(2, 1)
    x = np.linspace(0, 1, 50)
    axes[0][0].plot(x, x**2, label="x^2")
    axes[0][0].legend()
    axes[0][1].loglog(x[1:], 1 / x[1:])
    axes[0][1].set_xlabel("step size $\\eta$")
    return save_figure(fig, path, caption)


def test_save_figure_is_byte_identical_and_keeps_caption(tmp_path):
    a_pdf, a_png = _render(tmp_path / "a", "A caption.")
    time.sleep(1.1)  # a creation date would differ by now
    b_pdf, b_png = _render(tmp_path / "b.pdf", "A caption.")
    for a, b in ((a_pdf, b_pdf), (a_png, b_png)):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert b"CreationDate" not in a_pdf.read_bytes()
    assert read_caption(a_png) == "A caption."
    assert a_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_claims_pass_fail_and_json(tmp_path):
    claims = [
        Claim.near("close", "alpha near 2", mean_ci([2.04, 2.05, 2.06]), 2.0, 0.1),
        Claim.near("far", "alpha near 2", mean_ci([2.4, 2.5, 2.6]), 2.0, 0.1),
        Claim.at_most("below", "gap small", mean_ci(np.float64([0.01, 0.011, 0.009])), 0.05),
        Claim.at_least("above", "correlation high", mean_ci([0.7, 0.71, 0.69]), 0.9),
        Claim.at_least("all", "every run converged", fraction_ci([True] * 40), 0.85),
        Claim.near("nan", "undefined measure fails", mean_ci([1.0, float("nan"), 1.0]), 0.0, 1.0),
        Claim.below("ordered", "a lower than b on every seed", paired([1.0, 2, 3, 4, 5, 6], [2.0, 3, 4, 5, 6, 7])),
        Claim.below("tie", "a tie never passes", paired([1.0] * 6, [1.0] * 6)),
        Claim.below("few", "six seeds are needed for a median interval", paired([1.0] * 5, [2.0] * 5)),
    ]
    assert [c.passed for c in claims] == [True, False, True, False, True, False, True, False, None]
    assert claims[-1].reason and "at least 6" in claims[-1].reason
    assert all(c.margin > 2 for c in claims[:1]) and claims[1].margin < 0
    write_claims(claims, tmp_path / "claims.json")
    data = read_claims(tmp_path / "claims.json")
    fields = {"id", "statement", "kind", "relation", "measured", "expected", "tolerance", "ci", "ci_method",
              "evidence", "n", "margin", "passed", "fragile", "reason"}
    assert fields == set(data[0])
    assert data[2]["measured"] == 0.01 and data[5]["measured"] is None
    assert data[6]["evidence"]["effect"] == [-1.0] * 6 and data[6]["kind"] == "ordering"
    json.loads((tmp_path / "claims.json").read_text())
    with pytest.raises(ValueError, match="duplicate"):
        write_claims([claims[0], claims[0]], tmp_path / "dup.json")
    with pytest.raises(ValueError, match="relation"):
        Claim._make("x", "an ordering with a bound relation", "ordering", "<=", mean_ci([1.0, 2, 3]), 0.0)


def test_ordering_needs_its_interval_beyond_the_tie():
    # every seed but one says a < b: the median says so too, but the interval reaches the tie
    mixed = Claim.below("mixed", "", paired([1.0, 2, 3, 4, 5, 9], [2.0, 3, 4, 5, 6, 7]))
    assert mixed.measured < 0 and mixed.ci[1] > 0 and mixed.passed is False and mixed.margin < 1.96
    agree = Claim.below("agree", "", paired(np.arange(10.0), np.arange(10.0) + 1))
    assert agree.passed and agree.margin is None  # every seed differs by exactly 1: zero width
    shifted = Claim.above("shifted", "", paired(np.arange(10.0) * 0.1 + 1.0, np.zeros(10)))
    assert shifted.passed and shifted.margin > 2 and not shifted.fragile


def test_intervals_cover_at_their_level():
    rng = np.random.default_rng(1)
    draws = rng.standard_normal((2000, 8))
    cover_median = np.mean([(lambda e: e.ci[0] <= 0 <= e.ci[1])(median_ci(row)) for row in draws])
    cover_mean = np.mean([(lambda e: e.ci[0] <= 0 <= e.ci[1])(mean_ci(row)) for row in draws])
    assert cover_median >= 0.95 and cover_mean == pytest.approx(0.95, abs=0.015)
    flips = rng.random((2000, 30)) < 0.3
    cover_fraction = np.mean([(lambda e: e.ci[0] <= 0.3 <= e.ci[1])(fraction_ci(row)) for row in flips])
    assert cover_fraction >= 0.95
    x = np.arange(6.0)
    cover_slope = np.mean([(lambda e: e.ci[0] <= 2.0 <= e.ci[1])(slope_ci(x, 2 * x + row[:6])) for row in draws])
    assert cover_slope == pytest.approx(0.95, abs=0.015)


def test_bootstrap_interval_is_reproducible_and_sized():
    units = np.random.default_rng(2).standard_normal(40)
    a, b = bootstrap_ci(units, np.mean), bootstrap_ci(units, np.mean)
    assert a.ci == b.ci and a.ci[0] < a.value < a.ci[1]
    assert (a.ci[1] - a.ci[0]) / 2 == pytest.approx(1.96 * units.std(ddof=1) / np.sqrt(40), rel=0.2)
    assert bootstrap_ci(units[:3], np.mean).assessable is False


def test_grid_bracket_locates_a_transition_between_two_grid_points():
    est = grid_bracket(0.95, 1.0, {"lo": 0.95, "hi": 1.0})
    assert est.value == pytest.approx(0.975) and est.ci == (0.95, 1.0) and est.assessable
    # theory at the bracket's edge: distance 0.05 - 0.025, se = half-width / 1.96
    near = Claim.near("edge", "", est, 1.0, 0.05)
    assert near.passed and near.margin == pytest.approx(1.96, abs=1e-3)
    assert Claim.near("off", "", est, 1.2, 0.05).passed is False
    assert Claim.above("extent", "", grid_bracket(0.0, 0.1, None), 0.0).passed is False  # lower end on the tie
    missing = grid_bracket(float("nan"), float("nan"), None)
    assert Claim.near("none", "", missing, 1.0, 0.05).passed is False and missing.reason
    with pytest.raises(ValueError, match="lo <= hi"):
        grid_bracket(1.0, 0.5, None)
