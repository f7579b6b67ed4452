"""One figure style for every paper, and byte-reproducible PDF/PNG output.

Matplotlib stamps a creation date and its version into PDFs and a 'Software' chunk into
PNGs; :func:`save_figure` removes both, so re-rendering the same figure from the same data
gives byte-identical files. The figure's caption (what it shows and every value we chose
where the paper leaves it open) travels inside the PNG as its 'Description' text chunk and
the PDF as its 'Subject', from where the report reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import seaborn as sns

from .store import atomic_path

__all__ = ["apply_style", "new_figure", "save_figure", "read_caption", "PALETTE"]

PALETTE = "colorblind"
_DPI = 200

_RC = {
    "figure.dpi": 100,
    "savefig.dpi": _DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "pdf.fonttype": 42,
    "svg.hashsalt": "sgdrepro",
    "path.simplify": False,
}


def apply_style() -> None:
    """Set the shared seaborn/matplotlib style (idempotent)."""
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, rc=_RC)


def new_figure(ncols: int = 1, nrows: int = 1, width: float | None = None, height: float | None = None, **kwargs):
    """A styled figure with a grid of axes; default size: 2.6 x 2.2 inches per panel."""
    apply_style()
    width = width if width is not None else 2.6 * ncols
    height = height if height is not None else 2.2 * nrows
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kwargs)


def save_figure(fig, path_without_suffix: str | os.PathLike, caption: str = "") -> tuple[Path, Path]:
    """Write ``<path>.pdf`` and ``<path>.png`` without volatile metadata; close ``fig``."""
    stem = Path(path_without_suffix)
    if stem.suffix in {".pdf", ".png"}:
        stem = stem.with_suffix("")
    pdf, png = stem.with_suffix(".pdf"), stem.with_suffix(".png")
    pdf_meta = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": "sgdrepro", "Subject": caption}
    png_meta = {"Software": None, "Description": caption}
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata=pdf_meta)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", metadata=png_meta)
    plt.close(fig)
    return pdf, png


def read_caption(png_path: str | os.PathLike) -> str:
    """The caption stored in a PNG written by :func:`save_figure` ('' if none)."""
    from PIL import Image

    with Image.open(png_path) as image:
        return image.text.get("Description", "") if hasattr(image, "text") else ""
