"""The workflow's jobs, computed from the papers' manifests and the config (used by the Snakefile).

The Snakefile has four generic rules (train, figure, claims, report) with wildcards ``paper``,
``experiment`` and ``figure``; every input, param, message, thread count and resource of a job
comes from a :class:`Plan` method of the job's wildcards. Paths::

    results/<paper>/data/<experiment>.nc          train
    results/<paper>/figures/<figure>.{pdf,png}    figure
    results/<paper>/claims.json                   claims
    results/report.html                           report

A job's resources are keyed by its name, ``<paper>_train_<experiment>`` or ``<paper>_<figure>``
(``config.resources.scales.<scale>`` and ``config.resources.rules``, which wins).

Real data sets are checked before any job, and only for the jobs of the requested targets: the
default target and the report check every data set the config names (:meth:`Plan.left_out`),
a training job that reads one checks its own (:meth:`Plan.dataset_check`), for targets named
on the command line.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from pathlib import Path

from .config import scale_config
from .datasets import DatasetError, DatasetMissing, check_dataset, missing_message, needed_datasets
from .manifest import Manifest, manifests

__all__ = ["Plan", "train_job_name", "figure_job_name"]


def train_job_name(paper: str, experiment: str) -> str:
    return f"{paper}_train_{experiment}"


def figure_job_name(paper: str, figure: str) -> str:
    return f"{paper}_{figure}"


class Plan:
    """The jobs of one workflow invocation: ``config`` validated, results under ``results``."""

    def __init__(self, config: Mapping, results: str):
        self.config, self.results = config, results
        self.scale = config["scale"]
        self.papers = list(config["papers"])
        self.manifests: dict[str, Manifest] = manifests()
        self.needed = needed_datasets(config)  # {(paper, experiment): data set}, from the config alone

    # ------------------------------------------------------------ names and paths

    def wildcard_pattern(self, kind: str) -> str:
        """A regex of the registered names (a typo in a target is then no job at all, not a puzzle)."""
        if kind == "paper":
            names = list(self.manifests)
        elif kind == "experiment":
            names = sorted({e for m in self.manifests.values() for e in m.experiment_names})
        else:
            names = sorted({f for m in self.manifests.values() for f in m.figure_names})
        return "|".join(names)

    def data_path(self, paper: str, experiment: str) -> str:
        return f"{self.results}/{paper}/data/{experiment}.nc"

    def figure_path(self, paper: str, figure: str, ext: str) -> str:
        return f"{self.results}/{paper}/figures/{figure}.{ext}"

    def claims_path(self, paper: str) -> str:
        return f"{self.results}/{paper}/claims.json"

    def _experiment(self, wildcards) -> tuple[Manifest, str]:
        manifest = self.manifests[wildcards.paper]
        if wildcards.experiment not in manifest.experiment_names:
            raise ValueError(f"{wildcards.paper} has no experiment {wildcards.experiment!r}; "
                             f"its experiments are {', '.join(manifest.experiment_names)}")
        return manifest, wildcards.experiment

    def _figure(self, wildcards):
        manifest = self.manifests[wildcards.paper]
        if wildcards.figure not in manifest.figure_names:
            raise ValueError(f"{wildcards.paper} has no figure {wildcards.figure!r}; "
                             f"its figures are {', '.join(manifest.figure_names)}")
        return manifest.figure(wildcards.figure)

    # ------------------------------------------------------------ config of a job

    def paper_cfg(self, paper: str) -> dict:
        """The paper's section at the active scale."""
        return scale_config(self.config, paper)

    def experiment_cfg(self, wildcards) -> dict:
        paper, experiment = wildcards.paper, self._experiment(wildcards)[1]
        return self.paper_cfg(paper)[experiment]

    def figure_cfg(self, wildcards) -> dict:
        """Only the keys the figure reads: an edit elsewhere in the paper's section does not rerun it."""
        section = self.paper_cfg(wildcards.paper)
        return {key: section[key] for key in self._figure(wildcards).config if key in section}

    def claims_cfg(self, wildcards) -> dict:
        return self.paper_cfg(wildcards.paper)

    # ------------------------------------------------------------ inputs

    def figure_inputs(self, wildcards) -> dict[str, str]:
        return {e: self.data_path(wildcards.paper, e) for e in self._figure(wildcards).reads}

    def claims_inputs(self, wildcards) -> dict[str, str]:
        return {e: self.data_path(wildcards.paper, e) for e in self.manifests[wildcards.paper].experiment_names}

    # ------------------------------------------------------------ messages

    def train_message(self, wildcards) -> str:
        manifest, experiment = self._experiment(wildcards)
        return f"{manifest.key}: {manifest.experiment(experiment).message}"

    def figure_message(self, wildcards) -> str:
        return f"{wildcards.paper}: {self._figure(wildcards).message}"

    # ------------------------------------------------------------ resources

    def resources(self, kind: str, job: str) -> dict:
        """The config's defaults for the job's kind (``train``, ``light``), then the measured requests
        of the active scale (``resources.scales``), then the user's overrides (``resources.rules``)."""
        spec = dict(self.config["resources"][kind])
        spec.update(self.config["resources"].get("scales", {}).get(self.scale, {}).get(job, {}))
        spec.update(self.config["resources"].get("rules", {}).get(job, {}))
        return spec

    def train_resource(self, key: str):
        """A function of a training job's wildcards giving one of its resources (threads included)."""

        def of(wildcards, *_):
            spec = self.resources("train", train_job_name(*self._key(wildcards, "experiment")))
            return int(spec[key]) if key == "threads" else spec[key]

        return of

    def light_resource(self, key: str):
        """The same for a figure job."""

        def of(wildcards, *_):
            return self.resources("light", figure_job_name(*self._key(wildcards, "figure")))[key]

        return of

    @staticmethod
    def _key(wildcards, second: str) -> tuple[str, str]:
        return wildcards.paper, getattr(wildcards, second)

    # ------------------------------------------------------------ real data sets

    @functools.cache  # noqa: B019 (one Plan per Snakemake process)
    def dataset_problem(self, name: str) -> DatasetError | None:
        """The DatasetError of a data set (missing, or not the published files), or None; once per process."""
        try:
            check_dataset(name, self.config["datasets_dir"], verify=True)
        except DatasetError as error:
            return error
        return None

    def outputs_reading(self, paper: str, experiment: str) -> list[str]:
        """The paper's figures (by name) that read the experiment, then 'claims.json' (which reads all)."""
        return [f.name for f in self.manifests[paper].figures if experiment in f.reads] + ["claims.json"]

    def needed_by(self, name: str) -> str:
        """What needs data set ``name``, in words: each experiment that reads it and the outputs that read that."""
        parts = []
        for (paper, experiment), dataset in self.needed.items():
            if dataset == name:
                outputs = self.outputs_reading(paper, experiment)
                words = [f"figure {f}" for f in outputs if f != "claims.json"] + [f"{paper} claims"]
                parts.append(f"{paper}.{experiment} (for {', '.join(words)})")
        return "; ".join(parts)

    @functools.cached_property
    def left_out(self) -> dict[tuple[str, str], str]:
        """{(paper, figure or 'claims.json'): reason} of the outputs not built because a data set they
        read is unusable (allow_missing_datasets); without that key, stop before any job instead.
        A claims file is left out whole: each paper's claims code reads all its experiments."""
        problems = {n: e for n in dict.fromkeys(self.needed.values()) if (e := self.dataset_problem(n)) is not None}
        if problems and not self.config["allow_missing_datasets"]:
            sys.exit(missing_message(problems, {name: self.needed_by(name) for name in problems}))
        state = {n: "missing from" if isinstance(e, DatasetMissing) else "not the published files in"
                 for n, e in problems.items()}
        reasons = {}
        for (paper, experiment), name in self.needed.items():
            if name in problems:
                reason = f"not built (data set {name} {state[name]} datasets_dir)"
                reasons.update({(paper, out): reason for out in self.outputs_reading(paper, experiment)})
        for name in problems:
            print(f"sgdrepro: data set {name} {state[name]} datasets_dir: leaving out {self.needed_by(name)} "
                  "(allow_missing_datasets)", file=sys.stderr)
        return reasons

    def dataset_check(self, wildcards) -> list:
        """Input function of the training rule (adds no input file): stops the run before any job
        when the job is in the DAG and its data set is unusable."""
        name = self.needed.get((wildcards.paper, self._experiment(wildcards)[1]))
        error = self.dataset_problem(name) if name else None
        if error is not None:  # the default target stopped earlier (left_out): a named target needs it
            sys.exit(missing_message({name: error}, {name: self.needed_by(name)}, asked=True))
        return []

    # ------------------------------------------------------------ targets and the report

    def paper_targets(self, paper: str) -> list[str]:
        """The paper's figures (pdf, png) and claims, less those left out (see left_out)."""
        left = self.left_out
        figures = [f for f in self.manifests[paper].figure_names if (paper, f) not in left]
        claims = [] if (paper, "claims.json") in left else [self.claims_path(paper)]
        return [self.figure_path(paper, f, ext) for f in figures for ext in ("pdf", "png")] + claims

    def report_inputs(self, wildcards=None) -> list[str]:
        return [t for paper in self.papers for t in self.paper_targets(paper)]

    def all_targets(self, wildcards=None) -> list[str]:
        return self.report_inputs() + [f"{self.results}/report.html"]

    @staticmethod
    def results_dir_of(wildcards, output) -> str:
        """The report's results directory, from its own path (no prefix typed twice)."""
        return str(Path(output.html).parent)

    def report_papers(self, wildcards=None) -> dict:
        papers, left = {}, self.left_out
        for paper in self.papers:
            entry = {
                "claims": self.claims_path(paper),
                "figures": [self.figure_path(paper, f, "png") for f in self.manifests[paper].figure_names
                            if (paper, f) not in left],
            }
            not_built = {out: reason for (p, out), reason in left.items() if p == paper}
            if not_built:  # only then: with every data set there, the params (and the page) stay as they were
                entry["not_built"] = not_built
                entry["claims"] = None if "claims.json" in not_built else entry["claims"]
            papers[paper] = entry
        return papers


class FigureCaption:
    """A figure's own caption (stored in its PNG by ``save_figure``), for Snakemake's report.

    The figure rule passes one as a param and ``workflow/report/figure.rst`` prints ``.rst``, read
    when the report is rendered. Not a builtin type, so Snakemake leaves it out of the params it
    compares to decide on reruns: the caption exists only once the figure does.
    """

    def __init__(self, png: str):
        self.png = str(png)

    def __repr__(self) -> str:
        return f"FigureCaption({self.png!r})"

    @property
    def rst(self) -> str:
        """The caption as one reStructuredText paragraph (inline markup characters escaped)."""
        from .figures import read_caption

        text = read_caption(self.png)
        for char in "\\*`_|[]":
            text = text.replace(char, "\\" + char)
        return " ".join(text.split())

    @classmethod
    def of(cls, wildcards, output) -> FigureCaption:
        return cls(output.png)
