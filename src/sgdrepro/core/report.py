"""results/report.html: every paper's claims (pass/fail) beside its figures, in one file.

The page is self-contained (figures inlined as base64 PNG) so it can be mailed or archived;
it holds no dates, so the same results give the same bytes.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping
from pathlib import Path

from .claims import read_claims
from .config import config_digest
from .figures import read_caption
from .store import atomic_path, git_commit

__all__ = ["write_report", "paper_titles"]

paper_titles = {
    "heavy_tail": "Gurbuzbalaban, Simsekli, Zhu: The Heavy-Tail Phenomenon in SGD (ICML 2021)",
    "dimensionless_odes": "Arnaboldi, Stephan, Krzakala, Loureiro: From high-dimensional & mean-field "
    "dynamics to dimensionless ODEs (COLT 2023)",
    "quadratic_chaos": "Chen, Balasubramanian, Ghosal, Agrawalla: From Stability to Chaos: GD dynamics "
    "in quadratic regression (TMLR 2024)",
    "autoencoder_batch": "Ghosh, Frei, Ha, Yu: The Effect of SGD Batch Size on Autoencoder Learning (JMLR 2025)",
    "large_step_sparse": "Andriushchenko, Varre, Pillaud-Vivien, Flammarion: SGD with Large Step Sizes "
    "Learns Sparse Features (ICML 2023)",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0.2em} h2{border-bottom:1px solid #ccc;padding-top:1em}
table{border-collapse:collapse;width:100%;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .pass{color:#11772b;font-weight:bold} .fail{color:#b00020;font-weight:bold}
figure{display:inline-block;width:48%;margin:0.5%;vertical-align:top}
figure img{width:100%;border:1px solid #eee} figcaption{font-size:0.85em;color:#444}
code{background:#f4f4f4;padding:0 3px} .summary{font-size:1.05em}
"""


def _fmt(value) -> str:
    if value is None:  # claims store a non-finite measurement as null
        return '<span title="not finite: diverged or undefined">NaN</span>'
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return html.escape(str(value))


def _claims_table(claims: list[dict]) -> str:
    rows = []
    for claim in claims:
        status = '<span class="pass">pass</span>' if claim["passed"] else '<span class="fail">FAIL</span>'
        relation = {"approx": "&asymp;", "<=": "&le;", ">=": "&ge;"}.get(claim.get("relation", "approx"), "")
        rows.append(
            f"<tr><td><code>{html.escape(claim['id'])}</code></td><td>{html.escape(claim['statement'])}</td>"
            f"<td>{_fmt(claim['measured'])}</td><td>{relation} {_fmt(claim['expected'])}</td>"
            f"<td>{_fmt(claim['tolerance'])}</td><td>{status}</td></tr>"
        )
    head = "<tr><th>id</th><th>statement</th><th>measured</th><th>expected</th><th>tolerance</th><th>result</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _figure(png: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    caption = read_caption(png)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(png.stem)}">'
        f"<figcaption><b>{html.escape(png.stem)}</b>. {html.escape(caption)}</figcaption></figure>"
    )


def write_report(path: str | os.PathLike, papers: Mapping[str, Mapping], config: Mapping, results_dir: str = "results") -> Path:
    """``papers``: ``{paper: {"claims": path, "figures": [png paths]}}``."""
    from sgdrepro import __version__

    total = passed = 0
    sections, summary = [], []
    scale = config.get("scale")
    for paper, outputs in papers.items():
        claims = read_claims(outputs["claims"])
        n_passed = sum(bool(c["passed"]) for c in claims)
        total += len(claims)
        passed += n_passed
        section_cfg = config.get(paper, {}).get(scale) if isinstance(config.get(paper), Mapping) else None
        digest = config_digest(section_cfg) if section_cfg is not None else "n/a"
        figures = "".join(_figure(Path(p)) for p in outputs["figures"])
        verdict = "pass" if n_passed == len(claims) else "fail"
        summary.append(
            f'<tr><td><a href="#{html.escape(paper)}">{html.escape(paper)}</a></td>'
            f'<td class="{verdict}">{n_passed} of {len(claims)}</td><td>{len(outputs["figures"])}</td>'
            f"<td><code>{digest}</code></td></tr>"
        )
        sections.append(
            f'<h2 id="{html.escape(paper)}">{html.escape(paper_titles.get(paper, paper))}</h2>'
            f"<p>Claims: {n_passed} of {len(claims)} pass "
            f"(<code>{html.escape(str(outputs['claims']))}</code>); config section "
            f"<code>{html.escape(paper)}.{html.escape(str(scale))}</code> digest <code>{digest}</code>.</p>"
            f"{_claims_table(claims)}{figures}"
        )
    overview = (
        "<table><tr><th>paper</th><th>claims passed</th><th>figures</th><th>config section digest</th></tr>"
        f"{''.join(summary)}</table>"
    )
    header = (
        "<h1>sgdrepro report</h1>"
        f'<p class="summary">{passed} of {total} claims pass across {len(papers)} paper(s). '
        f"Scale <code>{html.escape(str(config.get('scale')))}</code>, "
        f"config digest <code>{config_digest(dict(config))}</code>, "
        f"sgdrepro <code>{html.escape(__version__)}</code>, commit <code>{html.escape(git_commit())}</code>.</p>"
        f"{overview}"
        f"<details><summary>Full config</summary><pre>{html.escape(json.dumps(dict(config), indent=1, sort_keys=True, default=str))}</pre></details>"
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>sgdrepro report</title>'
        f"<style>{_STYLE}</style></head><body>{header}{''.join(sections)}</body></html>\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page)
    return Path(path)
