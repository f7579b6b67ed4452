"""results/report.html opens cleanly in a real browser (headless Chromium).

The report is built by :func:`sgdrepro.core.report.write_report` from figures and claims
written by the core's own writers (two papers, a failing claim, a non-finite measurement),
then loaded with headless Chromium: the DOM it builds must hold every figure as an <img>
whose data URI decodes to the PNG that was written, the claims with pass/fail, the config
digest and the code version; the screenshot must be a non-blank PNG.

Chromium comes from Debian's packages; the test installs it with apt-get when it is missing
(as root, or through passwordless sudo) and skips, saying why, where it cannot, or where the
browser cannot render even a one-line page. Each launch runs in its own process group with
D-Bus switched off; a launch that hangs is killed with all its children and retried on a fresh
profile, and its log is in the failure message.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_TIMEOUT_S = 900
BROWSER_TIMEOUT_S = 60  # one launch; a page of inline data renders in about a second here
BROWSER_ATTEMPTS = 3  # a launch that hangs is killed with its children and retried on a fresh profile


def _find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _apt(*args: str) -> subprocess.CompletedProcess:
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run([*prefix, "apt-get", *args], capture_output=True, text=True, env=env,
                          timeout=INSTALL_TIMEOUT_S)


def _installed_browser() -> str:
    found = _find_browser()
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and there is no apt-get to install it")
    if os.geteuid() != 0 and (shutil.which("sudo") is None
                              or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0):
        pytest.skip("chromium is not installed and apt-get needs root (no passwordless sudo)")
    try:
        update = _apt("update")
        if update.returncode != 0:
            pytest.skip(f"chromium missing; 'apt-get update' failed: {update.stderr.strip()[-300:]}")
        install = _apt("install", "-y", "--no-install-recommends", "chromium")
    except subprocess.TimeoutExpired:
        pytest.skip(f"chromium missing; apt-get did not finish within {INSTALL_TIMEOUT_S} s")
    if install.returncode != 0:
        pytest.skip(f"chromium missing; 'apt-get install chromium' failed: {install.stderr.strip()[-300:]}")
    found = _find_browser()
    if not found:
        pytest.skip("apt-get installed chromium but no chromium binary is on PATH")
    return found


def _launch(browser: str, profile: Path, *args: str) -> tuple[int | None, str, str]:
    """One headless run in its own process group: (returncode or None on a hang, stdout, stderr)."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           "--enable-logging=stderr", f"--user-data-dir={profile}", *args]
    # D-Bus that fails at once: a bus socket that exists but never answers would stall start-up
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:", "DBUS_SYSTEM_BUS_ADDRESS": "disabled:"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=BROWSER_TIMEOUT_S)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the renderer and GPU children too, or they hold the pipes
        out, err = proc.communicate()
        return None, out, err


def _headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """A headless run that finished, retried on a fresh profile when a launch hangs."""
    hangs = []
    for attempt in range(BROWSER_ATTEMPTS):
        code, out, err = _launch(browser, profile.with_name(f"{profile.name}-{attempt}"), *args)
        if code is not None:
            return subprocess.CompletedProcess(args, code, out, err)
        hangs.append(err[-1500:])
    raise AssertionError(f"{browser} hung {BROWSER_ATTEMPTS} times ({BROWSER_TIMEOUT_S} s each); "
                         f"its last log lines:\n{hangs[-1]}")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory) -> str:
    """A browser that renders a trivial page; one that cannot is this machine's limit, not the report's."""
    browser = _installed_browser()
    scratch = tmp_path_factory.mktemp("smoke")
    page = scratch / "smoke.html"
    page.write_text("<html><body><p>smoke</p></body></html>")
    try:
        smoke = _headless(browser, scratch / "profile", "--dump-dom", page.as_uri())
    except AssertionError as hung:
        pytest.skip(f"the browser cannot render even a one-line page here: {hung}")
    if smoke.returncode != 0 or "<p>smoke</p>" not in smoke.stdout:
        pytest.skip(f"the browser cannot render even a one-line page here (exit {smoke.returncode}): "
                    f"{smoke.stderr[-1500:]}")
    return browser


class _DomScan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


# ---------------------------------------------------------------- a report built by the core writers


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from sgdrepro.core import Claim, new_figure, save_figure, write_claims
    from sgdrepro.core.claims import mean_ci, paired
    from sgdrepro.core.config import config_digest
    from sgdrepro.core.report import write_report
    from sgdrepro.core.store import git_commit

    root = tmp_path_factory.mktemp("report")
    results = root / "results"
    papers, pngs = {}, []
    x = np.linspace(0.0, 1.0, 50)
    for paper, n_figures in (("heavy_tail", 2), ("quadratic_chaos", 1)):
        figures = []
        for i in range(1, n_figures + 1):
            fig, axes = new_figure(2, 1)
            axes[0][0].plot(x, x**i, label=f"x^{i}")
            axes[0][0].set_xlabel("step size $\\eta$")
            axes[0][0].legend()
            axes[0][1].semilogy(x, np.exp(-i * x))
            stem = results / paper / "figures" / f"fig{i}"
            stem.parent.mkdir(parents=True, exist_ok=True)
            save_figure(fig, stem, caption=f"{paper} figure {i}: a test caption with <angle> & ampersand")
            figures.append(str(stem.with_suffix(".png")))
        claims = [Claim.near(f"{paper}_ok", "a claim that holds", mean_ci([0.99, 1.0, 1.01]), 1.0, 0.1),
                  Claim.near(f"{paper}_thin", "a claim that holds by a thin margin", mean_ci([0.85, 1.0, 1.15]), 1.0, 0.1),
                  Claim.at_most(f"{paper}_bad", "a claim that fails", mean_ci([2.0, 2.1, 1.9]), 1.0),
                  Claim.at_least(f"{paper}_nan", "a non-finite measurement fails", mean_ci([1.0, float("nan"), 1.0]), 0.0),
                  Claim.below(f"{paper}_tie", "an ordering that ties fails", paired([1.0] * 6, [1.0] * 6)),
                  Claim.below(f"{paper}_small", "an ordering without enough seeds", paired([1.0] * 3, [2.0] * 3))]
        write_claims(claims, results / paper / "claims.json")
        papers[paper] = {"claims": str(results / paper / "claims.json"), "figures": figures}
        pngs += figures
    config = {"scale": "quick", "device": "auto", "papers": list(papers), "heavy_tail": {"quick": {"a": 1}}}
    html_path = write_report(results / "report.html", papers, config, results_dir=str(results))
    return {"path": html_path, "pngs": pngs, "digest": config_digest(config), "commit": git_commit(),
            "root": root, "n_claims": 12, "n_passed": 4}


def test_report_opens_in_headless_chromium(chromium, report, tmp_path):
    from PIL import Image

    url = report["path"].resolve().as_uri()
    shot = tmp_path / "report.png"

    dom = _headless(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<html" in dom.stdout and "</html>" in dom.stdout, dom.stdout[:500]
    scan = _DomScan()
    scan.feed(dom.stdout)
    text = " ".join(scan.text)

    # every figure is there, inline, and decodes to exactly the PNG the figure writer produced
    assert len(scan.images) == len(report["pngs"])
    written = {hashlib.sha256(Path(p).read_bytes()).hexdigest(): p for p in report["pngs"]}
    seen = set()
    for img in scan.images:
        src = img.get("src", "")
        assert src.startswith("data:image/png;base64,"), src[:60]
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.size[0] > 100 and image.size[1] > 100
        digest = hashlib.sha256(data).hexdigest()
        assert digest in written, "an <img> does not match any written figure"
        seen.add(digest)
        assert img.get("alt"), "figure without alt text"
    assert seen == set(written)

    # claims with pass/fail, captions, config digest and code version, as the browser parsed them
    assert f"Claims: {report['n_passed']} of {report['n_claims']} pass (2 fragile, 6 fail, 2 not assessable" in text
    assert text.count("FAIL") == 6 and text.count("pass (fragile)") == 2
    assert dom.stdout.count('<tr class="row-na">') == 2 and dom.stdout.count('<tr class="row-fragile">') == 2
    assert "95% interval" in text and "margin" in text and "How to read a claim" in text
    assert "a test caption with <angle> & ampersand" in text
    assert report["digest"] in text and report["commit"] in text
    assert "NaN" in text

    run = _headless(chromium, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1200,3000",
                    "--hide-scrollbars", url)
    keep = os.environ.get("SGDREPRO_KEEP_SCREENSHOT")  # a person's look at the page: where to copy it
    if keep and shot.exists():
        shutil.copy(shot, keep)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.format == "PNG"
        assert image.size == (1200, 3000)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    # not blank: text and plots give many grey levels and a visible spread over the page
    assert pixels.std() > 10, f"screenshot looks blank (std {pixels.std():.2f})"
    assert len(np.unique(pixels)) > 32
    # figures are drawn: some part of the lower page (where the figures sit) is not plain white
    rows_with_ink = (pixels < 200).any(axis=1).mean()
    assert rows_with_ink > 0.2, f"only {rows_with_ink:.0%} of the rows have any ink"
