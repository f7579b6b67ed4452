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

__all__ = ["write_report", "paper_title", "verdict"]

def paper_title(paper: str) -> str:
    """The heading of a paper's section: its manifest's title (the key, for a paper without one)."""
    from .manifest import manifests

    manifest = manifests().get(paper)
    return manifest.title if manifest is not None else paper


_HOW_TO_READ = (
    "<details><summary>How to read a claim</summary><p>Each claim is measured from the stored trajectories. "
    "<b>kind</b>: <i>theory</i> compares with an independent closed form or numerical solution, <i>paper</i> with "
    "a number the paper or the authors' code reports, <i>ordering</i> compares one condition with another. The "
    "<b>95% interval</b> comes from the per-seed evidence (its method is in claims.json). A theory or paper claim "
    "passes when the measured value satisfies the relation; an ordering passes only when its whole interval lies "
    "beyond the tie, never on equality. <b>margin</b>: the distance from failing in standard errors; a pass with "
    "margin under 2 is marked <i>fragile</i>. <i>n/a</i>: the run has too few seeds for an interval.</p></details>"
)

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0.2em} h2{border-bottom:1px solid #ccc;padding-top:1em}
table{border-collapse:collapse;width:100%;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .pass{color:#11772b;font-weight:bold} .fail{color:#b00020;font-weight:bold}
.fragile{color:#b36b00;font-weight:bold} .na{color:#666} tr.row-fragile td{background:#fff6e5}
tr.row-fail td{background:#fdecee}
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


def verdict(claim: Mapping) -> str:
    """One of pass, fragile (passes with margin under 2), fail, n/a (cannot be assessed at this size)."""
    if claim["passed"] is None:
        return "n/a"
    if not claim["passed"]:
        return "fail"
    return "fragile" if claim.get("fragile") else "pass"


_VERDICT_HTML = {
    "pass": '<span class="pass">pass</span>',
    "fragile": '<span class="fragile" title="passes with a margin under 2 standard errors">pass (fragile)</span>',
    "fail": '<span class="fail">FAIL</span>',
    "n/a": '<span class="na" title="the run is too small to give an interval">n/a</span>',
}
_RELATION_HTML = {"approx": "&asymp;", "<=": "&le;", ">=": "&ge;", "<": "&lt;", ">": "&gt;"}


def _expected(claim: Mapping) -> str:
    text = f"{_RELATION_HTML.get(claim['relation'], '')} {_fmt(claim['expected'])}"
    if claim.get("tolerance"):
        text += f" &plusmn; {_fmt(claim['tolerance'])}" if claim["relation"] == "approx" else f" + {_fmt(claim['tolerance'])}"
    return text


def _claims_table(claims: list[dict]) -> str:
    rows = []
    for claim in claims:
        v = verdict(claim)
        note = f"<br><small>{html.escape(claim['reason'])}</small>" if claim.get("reason") else ""
        margin = "exact" if claim["margin"] is None and claim["passed"] is not None and claim["measured"] is not None \
            else _fmt(claim["margin"]) if claim["margin"] is not None else "&ndash;"
        rows.append(
            f'<tr class="row-{v.replace("/", "")}"><td><code>{html.escape(claim["id"])}</code></td>'
            f"<td>{html.escape(claim['kind'])}</td><td>{html.escape(claim['statement'])}</td>"
            f"<td>{_fmt(claim['measured'])} <small>{_fmt(claim['ci'])}</small></td><td>{_expected(claim)}</td>"
            f"<td>{margin}</td><td>{_VERDICT_HTML[v]}{note}</td></tr>"
        )
    head = ("<tr><th>id</th><th>kind</th><th>statement</th><th>measured [95% interval]</th><th>expected</th>"
            '<th title="distance from failing, in standard errors">margin</th><th>result</th></tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _counts(claims: list[dict]) -> dict[str, int]:
    counts = {"pass": 0, "fragile": 0, "fail": 0, "n/a": 0}
    for claim in claims:
        counts[verdict(claim)] += 1
    return counts


def _count_text(counts: Mapping[str, int]) -> str:
    passed = counts["pass"] + counts["fragile"]
    text = f"{passed} of {sum(counts.values())} pass"
    details = [f"{counts['fragile']} fragile"] if counts["fragile"] else []
    details += [f"{counts['fail']} fail"] if counts["fail"] else []
    details += [f"{counts['n/a']} not assessable at this size"] if counts["n/a"] else []
    return text + (f" ({', '.join(details)})" if details else "")


def _figure(png: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    caption = read_caption(png)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(png.stem)}">'
        f"<figcaption><b>{html.escape(png.stem)}</b>. {html.escape(caption)}</figcaption></figure>"
    )


def _not_built(not_built: Mapping[str, str]) -> str:
    """The outputs left out (a data set they read is missing), one line each; nothing when none."""
    if not not_built:
        return ""
    items = "".join(f"<li><code>{html.escape(name)}</code>: {html.escape(reason)}</li>" for name, reason in not_built.items())
    return f'<p class="na">Not built (<code>allow_missing_datasets</code>):</p><ul class="na">{items}</ul>'


def write_report(path: str | os.PathLike, papers: Mapping[str, Mapping], config: Mapping, results_dir: str = "results") -> Path:
    """``papers``: ``{paper: {"claims": path, "figures": [png paths]}}``, with ``"not_built":
    {figure or "claims.json": reason}`` for the outputs left out (then ``"claims"`` is None if the
    claims are among them)."""
    from sgdrepro import __version__

    totals = {"pass": 0, "fragile": 0, "fail": 0, "n/a": 0}
    sections, summary = [], []
    scale = config.get("scale")
    for paper, outputs in papers.items():
        not_built = outputs.get("not_built") or {}
        claims = read_claims(outputs["claims"]) if outputs["claims"] is not None else []
        counts = _counts(claims)
        for key, value in counts.items():
            totals[key] += value
        section_cfg = config.get(paper, {}).get(scale) if isinstance(config.get(paper), Mapping) else None
        digest = config_digest(section_cfg) if section_cfg is not None else "n/a"
        figures = "".join(_figure(Path(p)) for p in outputs["figures"])
        status = "fail" if counts["fail"] else "fragile" if counts["fragile"] else "pass"
        claims_text = _count_text(counts)
        if outputs["claims"] is None:
            status, claims_text = "na", html.escape(not_built.get("claims.json", "not built"))
        n_missing = sum(name != "claims.json" for name in not_built)
        summary.append(
            f'<tr><td><a href="#{html.escape(paper)}">{html.escape(paper)}</a></td>'
            f'<td class="{status}">{claims_text}</td><td>{len(outputs["figures"])}'
            f"{f' ({n_missing} not built)' if n_missing else ''}</td>"
            f"<td><code>{digest}</code></td></tr>"
        )
        claims_where = f" (<code>{html.escape(str(outputs['claims']))}</code>)" if outputs["claims"] is not None else ""
        sections.append(
            f'<h2 id="{html.escape(paper)}">{html.escape(paper_title(paper))}</h2>'
            f"<p>Claims: {claims_text}{claims_where}; config section "
            f"<code>{html.escape(paper)}.{html.escape(str(scale))}</code> digest <code>{digest}</code>.</p>"
            f"{_claims_table(claims) if outputs['claims'] is not None else ''}{figures}{_not_built(not_built)}"
        )
    overview = (
        "<table><tr><th>paper</th><th>claims passed</th><th>figures</th><th>config section digest</th></tr>"
        f"{''.join(summary)}</table>"
    )
    header = (
        "<h1>sgdrepro report</h1>"
        f'<p class="summary">Claims: {_count_text(totals)}, across {len(papers)} paper(s). '
        f"Scale <code>{html.escape(str(config.get('scale')))}</code>, "
        f"config digest <code>{config_digest(dict(config))}</code>, "
        f"sgdrepro <code>{html.escape(__version__)}</code>, commit <code>{html.escape(git_commit())}</code>.</p>"
        f"{overview}{_HOW_TO_READ}"
        f"<details><summary>Full config</summary><pre>{html.escape(json.dumps(dict(config), indent=1, sort_keys=True, default=str))}</pre></details>"
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>sgdrepro report</title>'
        f"<style>{_STYLE}</style></head><body>{header}{''.join(sections)}</body></html>\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page)
    return Path(path)
