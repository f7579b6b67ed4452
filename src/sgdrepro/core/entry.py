"""What the thin scripts under scripts/ call: one function per kind of job.

A paper plugs in by convention, so rules stay declarative:

- ``sgdrepro.<paper>.experiments.run_<experiment>(cfg, ctx) -> xarray.Dataset``
- ``sgdrepro.<paper>.figures.plot_<figure>(data, cfg) -> (Figure, caption)``
- ``sgdrepro.<paper>.claims.measure_claims(data, cfg) -> list[Claim]``

``data`` maps the rule's named inputs to loaded Datasets; ``cfg`` is the paper's section at
the active scale (for experiments: the experiment's own section).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import numerics
from .store import provenance, read_dataset, write_dataset

if TYPE_CHECKING:
    import torch

# torch (and the trainer) are imported by the training jobs only: a figure or claims job of a
# paper whose figures and claims need no torch starts ~1.5 s sooner (most of a DAG's ~36)

__all__ = ["RunContext", "train_job", "figure_job", "claims_job", "report_job", "set_threads"]


@dataclass
class RunContext:
    """Everything an experiment needs besides its own config section."""

    paper: str
    experiment: str
    device: torch.device
    dtype: torch.dtype
    root_seed: int = 0
    datasets_dir: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("sgdrepro"))


def set_threads(n: int) -> None:
    """Fix the thread count of torch and BLAS: results must not depend on ``--cores``. Call it
    after the job's modules are imported (torch and the BLAS libraries it limits are then loaded;
    a torch imported later reads OMP_NUM_THREADS)."""
    n = max(1, int(n))
    os.environ["OMP_NUM_THREADS"] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass


@contextlib.contextmanager
def job_logging(log_path: str | None, config: Mapping | None = None):
    """Send logging and warnings of one job to its log file; with ``config`` (validated, so with the
    schemas' defaults), first check that the job runs with the numerics environment it asks for."""
    root = logging.getLogger()
    handler = logging.FileHandler(log_path, mode="w") if log_path else logging.StreamHandler()
    # a time stamp on every line: a reader of a long job's log sees when each step happened
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    logging.captureWarnings(True)
    try:
        if config is not None:
            numerics.check(config["numerics"])
        yield logging.getLogger("sgdrepro")
    except Exception:
        logging.getLogger("sgdrepro").exception("job failed")
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


def _paper_module(paper: str, part: str):
    return importlib.import_module(f"sgdrepro.{paper}.{part}")


def _load_inputs(inputs: Mapping[str, str]) -> dict:
    return {key: read_dataset(path) for key, path in inputs.items() if str(path).endswith(".nc")}


def _named(namedlist) -> dict[str, str]:
    return {key: str(value) for key, value in namedlist.items()}


def train_job(smk) -> None:
    """Run one experiment and store its trajectories."""
    from .device import resolve_device, resolve_dtype
    from .trainer import memory_budget, progress_every

    paper, experiment, cfg = smk.params.paper, smk.params.experiment, dict(smk.params.cfg)
    config = smk.config
    with job_logging(smk.log[0] if smk.log else None, config) as log:
        run = getattr(_paper_module(paper, "experiments"), f"run_{experiment}")
        set_threads(smk.params.threads)
        device = resolve_device(config["device"])
        numerics.deterministic(device)
        ctx = RunContext(
            paper=paper,
            experiment=experiment,
            device=device,
            dtype=resolve_dtype(config["dtype"]),
            root_seed=int(config["root_seed"]),
            datasets_dir=config["datasets_dir"],
            inputs=_named(smk.input),
            log=log,
        )
        budget = _memory_budget(smk)
        log.info("%s/%s on %s, memory budget %s", paper, experiment, device,
                 "the free memory" if budget is None else f"{budget / 1e6:.0f} MB (the job's mem_mb)")
        with warnings.catch_warnings(), progress_every(config["progress_seconds"]), memory_budget(budget):
            warnings.simplefilter("once")
            dataset = run(cfg, ctx)
        attrs = provenance(paper, experiment, cfg, config["scale"], ctx.root_seed, device.type,
                           config["numerics"])
        write_dataset(dataset, smk.output.nc, attrs)


def _memory_budget(smk) -> int | None:
    """The job's memory request in bytes (Snakemake's ``mem_mb``), what its chunks must fit in."""
    mem_mb = getattr(smk.resources, "mem_mb", None) if hasattr(smk, "resources") else None
    return None if mem_mb is None else int(mem_mb) * 1_000_000


def figure_job(smk) -> None:
    """Render one figure from stored trajectories."""
    from .figures import save_figure

    paper, figure = smk.params.paper, smk.params.figure
    with job_logging(smk.log[0] if smk.log else None, smk.config):
        plot = getattr(_paper_module(paper, "figures"), f"plot_{figure}")
        set_threads(1)
        data = _load_inputs(_named(smk.input))
        fig, caption = plot(data, smk.params.cfg)
        save_figure(fig, Path(smk.output.pdf).with_suffix(""), caption)


def claims_job(smk) -> None:
    """Measure a paper's claims from stored trajectories."""
    from .claims import write_claims

    paper = smk.params.paper
    with job_logging(smk.log[0] if smk.log else None, smk.config):
        measure = _paper_module(paper, "claims").measure_claims
        set_threads(1)
        data = _load_inputs(_named(smk.input))
        write_claims(measure(data, smk.params.cfg), smk.output.json)


def report_job(smk) -> None:
    """Gather every paper's claims and figures into one HTML page."""
    from .report import write_report

    with job_logging(smk.log[0] if smk.log else None):
        write_report(smk.output.html, smk.params.papers, smk.config, results_dir=smk.params.results_dir)
