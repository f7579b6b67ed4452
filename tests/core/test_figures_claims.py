"""Figures re-render byte-identically with their caption; claims derive pass/fail."""

import hashlib
import json
import time

import numpy as np
import pytest

from sgdrepro.core import Claim, new_figure, read_claims, save_figure, write_claims
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
        Claim.approx("close", "alpha near 2", 2.05, 2.0, 0.1),
        Claim.approx("far", "alpha near 2", 2.5, 2.0, 0.1),
        Claim.at_most("below", "gap small", np.float64(0.01), 0.05),
        Claim.at_least("above", "correlation high", 0.7, 0.9),
        Claim.holds("all", "every run converged", 1.0),
        Claim.approx("nan", "undefined measure fails", float("nan"), 0.0, 1.0),
    ]
    assert [c.passed for c in claims] == [True, False, True, False, True, False]
    write_claims(claims, tmp_path / "claims.json")
    data = read_claims(tmp_path / "claims.json")
    assert {"id", "statement", "measured", "expected", "tolerance", "passed"} <= set(data[0])
    assert data[2]["measured"] == 0.01 and data[5]["measured"] is None
    json.loads((tmp_path / "claims.json").read_text())
    with pytest.raises(ValueError, match="duplicate"):
        write_claims([claims[0], claims[0]], tmp_path / "dup.json")
