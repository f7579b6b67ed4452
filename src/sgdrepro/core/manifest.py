"""What the workflow, the report, the SLURM profile, the config schema and the tests know about a paper.

Each paper's package holds one ``manifest`` module with ``MANIFEST = Manifest(...)``: its title,
its experiments (one training job each, writing ``results/<paper>/data/<experiment>.nc``) and
its figures (one job each, reading the experiments it names). The generic rules of the workflow
are computed from these; nothing outside the paper's own package names a paper.

A paper is found by :func:`manifests`: every subpackage of ``sgdrepro`` with a ``manifest``
module. ``sgdrepro`` is a namespace that extends over every ``sgdrepro/`` directory on
``sys.path`` (``pkgutil.extend_path``), so a paper may also live outside this source tree.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from dataclasses import dataclass
from functools import cache

__all__ = ["Experiment", "Figure", "Manifest", "manifests", "manifest_of", "ManifestError"]

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class ManifestError(ValueError):
    """A manifest that contradicts itself (a figure reading an unknown experiment, a repeated name)."""


def _check_name(what: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ManifestError(f"{what} {name!r}: a name is lower-case letters, digits and '_', starting with a letter")


@dataclass(frozen=True)
class Experiment:
    """One training job: ``sgdrepro.<paper>.experiments.run_<name>(cfg, ctx)`` over its config section."""

    name: str
    message: str  # one line, shown when the job starts


@dataclass(frozen=True)
class Figure:
    """One figure job: ``sgdrepro.<paper>.figures.plot_<name>(data, cfg)``.

    ``reads``: the experiments whose trajectories it plots (``data`` holds exactly these).
    ``config``: the keys of the paper's section (at the active scale) it reads; the job's
    params carry only these, so editing another key does not rerun the figure.
    """

    name: str
    reads: tuple[str, ...]
    message: str
    config: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """A paper: ``key`` (its package name), ``title`` (as the report heads it), ``position`` (its
    place in the default target and the report), its experiments and figures. Its claims job
    reads every experiment (``sgdrepro.<paper>.claims.measure_claims(data, cfg)``)."""

    key: str
    title: str
    position: int
    experiments: tuple[Experiment, ...]
    figures: tuple[Figure, ...]

    def __post_init__(self):
        _check_name("paper", self.key)
        names = [e.name for e in self.experiments]
        for name in names:
            _check_name(f"{self.key} experiment", name)
        for figure in self.figures:
            _check_name(f"{self.key} figure", figure.name)
            unknown = [e for e in figure.reads if e not in names]
            if unknown or not figure.reads:
                raise ManifestError(f"{self.key} figure {figure.name!r} reads {unknown or 'nothing'}; its experiments are {', '.join(names)}")
        for what, items in (("experiment", names), ("figure", [f.name for f in self.figures])):
            repeated = sorted({n for n in items if items.count(n) > 1})
            if repeated:
                raise ManifestError(f"{self.key}: {what} {', '.join(repeated)} declared twice")

    @property
    def experiment_names(self) -> list[str]:
        return [e.name for e in self.experiments]

    @property
    def figure_names(self) -> list[str]:
        return [f.name for f in self.figures]

    def experiment(self, name: str) -> Experiment:
        return next(e for e in self.experiments if e.name == name)

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)


@cache
def manifests() -> dict[str, Manifest]:
    """Every paper, in the order of their ``position`` (then key)."""
    import sgdrepro

    found = []
    for info in pkgutil.iter_modules(sgdrepro.__path__):
        if not info.ispkg or info.name.startswith("_") or info.name == "core":
            continue
        if importlib.util.find_spec(f"sgdrepro.{info.name}.manifest") is None:
            continue
        manifest = importlib.import_module(f"sgdrepro.{info.name}.manifest").MANIFEST
        if manifest.key != info.name:
            raise ManifestError(f"sgdrepro.{info.name}.manifest declares key {manifest.key!r}: it must be {info.name!r}")
        found.append(manifest)
    return {m.key: m for m in sorted(found, key=lambda m: (m.position, m.key))}


def manifest_of(paper: str) -> Manifest:
    try:
        return manifests()[paper]
    except KeyError:
        raise ManifestError(f"no paper {paper!r}; the papers are {', '.join(manifests())}") from None
