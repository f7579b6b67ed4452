"""The batched trainer: every run of a grid advanced together as one tensor program.

A paper supplies three small functions over a *chunk* of runs (leading axis = run):

- ``init(ctx) -> state``: the initial state, a dict of tensors ``[runs, ...]``;
- ``step(state, k, ctx) -> state``: one iteration (pure: returns a new dict);
- ``observe(state, k, ctx) -> {name: tensor[runs, ...]}``: what is recorded at step k.

``ctx`` (:class:`Chunk`) carries the chunk's per-run parameters as tensors (``ctx.params``,
e.g. the learning rate of each run), its counter-based random streams (``ctx.random``), the
device and dtype. A run whose state stops being finite (or fails ``is_diverged``) is frozen
at its last finite state and marked with its step of divergence; its records from that
step on are NaN, so nothing downstream mistakes a blown-up run for a converged one. Runs
are processed in chunks sized from the memory a job may use (its ``mem_mb`` request, set by
:func:`memory_budget`, or the free memory, whichever is smaller); the per-run random streams
make the result independent of the chunking. Every call logs its progress (runs, steps,
rate, time left, divergences) every :func:`progress_every` seconds.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .seeding import RunRandom

__all__ = ["Chunk", "Trajectory", "train_batched", "auto_chunk_size", "all_finite", "any_beyond", "progress_every",
           "memory_budget", "Progress", "with_progress"]

log = logging.getLogger(__name__)

# Seconds between two progress lines in the job log; a training job sets it from the config.
_PROGRESS_SECONDS = contextvars.ContextVar("progress_seconds", default=60.0)
# Bytes a job may use (its mem_mb request); None: a share of the machine's free memory.
_MEMORY_BUDGET = contextvars.ContextVar("memory_budget", default=None)


@contextlib.contextmanager
def progress_every(seconds: float):
    """Within this block, every :func:`train_batched` call logs its progress every ``seconds``."""
    token = _PROGRESS_SECONDS.set(float(seconds))
    try:
        yield
    finally:
        _PROGRESS_SECONDS.reset(token)


@contextlib.contextmanager
def memory_budget(n_bytes: int | None):
    """Within this block, chunks are sized to fit ``n_bytes`` (the job's request) instead of the
    machine's free memory, so a job stays inside what it asked a scheduler for."""
    token = _MEMORY_BUDGET.set(None if n_bytes is None else int(n_bytes))
    try:
        yield
    finally:
        _MEMORY_BUDGET.reset(token)


def with_progress(items, total: int, what: str, clock=time.monotonic):
    """Yield ``items``, logging ``progress: <what> i/total done, elapsed, left ~`` at the job's
    progress interval: for the loops of a job outside the trainer (e.g. one ODE solve per cell)."""
    every = _PROGRESS_SECONDS.get()
    start = clock()
    next_at = start + every
    for done, item in enumerate(items):
        yield item
        now = clock()
        if now >= next_at:
            left = (now - start) * (total - done - 1) / (done + 1)
            log.info("progress: %s %d/%d done, elapsed %s, left ~%s", what, done + 1, total, _clock(now - start),
                     _clock(left))
            next_at = now + every


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress lines of one :func:`train_batched` call: runs and steps done, rate, elapsed time,
    estimated time left and runs diverged so far, at most one line every ``every`` seconds."""

    def __init__(self, n_runs: int, n_steps: int, every: float, clock=time.monotonic):
        self.n_runs, self.n_steps, self.every, self.clock = n_runs, n_steps, every, clock
        self.start = self.clock()
        self.next_at = self.start + every
        self.runs_done = 0  # runs of finished chunks
        self.diverged_done = 0
        self.steps_start = self.start  # when the current chunk's first step began
        self.init_seconds = 0.0  # time spent in ``init`` (data, constants), all chunks so far

    def chunk_started(self, init_seconds: float) -> None:
        self.init_seconds += init_seconds
        self.steps_start = self.clock()

    def due(self) -> bool:
        return self.clock() >= self.next_at

    def line(self, chunk_runs: int, steps_done: int, diverged_now: int) -> str:
        """``runs A/B done, chunk of C at step k/K, ...``; with ``chunk_runs`` 0, between chunks."""
        now = self.clock()
        elapsed = now - self.start
        work_done = self.runs_done * self.n_steps + chunk_runs * steps_done
        total = self.n_runs * self.n_steps
        # in the first chunk, the rate of its steps alone: a long init would make an ETA of hours
        seconds = elapsed if self.runs_done else now - self.steps_start
        rate = (work_done / seconds) if seconds > 0 and work_done else float("nan")
        left = (total - work_done) / rate if rate > 0 else float("nan")
        where = f", chunk of {chunk_runs} at step {steps_done}/{self.n_steps}" if chunk_runs else ""
        return (f"runs {self.runs_done}/{self.n_runs} done{where}, {100 * work_done / max(total, 1):.1f}% of "
                f"{total:.3g} run-steps, {rate:.3g} run-steps/s, elapsed {_clock(elapsed)}, "
                f"left ~{_clock(left) if left == left else '?'}, diverged {self.diverged_done + diverged_now}, "
                f"init {self.init_seconds:.1f} s")

    def report(self, chunk_runs: int, steps_done: int, diverged_now: int) -> None:
        log.info("progress: %s", self.line(chunk_runs, steps_done, diverged_now))
        self.next_at = self.clock() + self.every

    def chunk_done(self, chunk_runs: int, diverged: int) -> None:
        self.runs_done += chunk_runs
        self.diverged_done += diverged


@dataclass
class Chunk:
    index: np.ndarray  # run indices of this chunk in the full grid
    params: dict[str, torch.Tensor]  # per-run parameters, [runs]
    random: RunRandom
    device: torch.device
    dtype: torch.dtype
    group: object = None  # the chunk's ``group_by`` label (one per chunk), None without grouping

    @property
    def n_runs(self) -> int:
        return len(self.index)


@dataclass
class Trajectory:
    steps: np.ndarray  # recorded steps
    records: dict[str, np.ndarray]  # name -> [runs, n_records, ...]
    final: dict[str, np.ndarray]  # last (finite) state, name -> [runs, ...]
    diverged_step: np.ndarray  # int64[runs]; -1 for runs that never diverged

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0


def any_beyond(value: torch.Tensor, limit: float) -> torch.Tensor:
    """Per run (leading axis): some entry is NaN or has magnitude >= ``limit``.

    The largest |entry| per run, compared once: amax propagates a NaN, which compares False.
    Cheaper than an elementwise compare and all(), or vector_norm(ord=inf), at every kernel level.
    """
    return ~(value.reshape(value.shape[0], -1).abs().amax(dim=1) < limit)


def all_finite(state: Mapping[str, torch.Tensor], limit: float = 1e150) -> torch.Tensor:
    """Per-run: every floating entry of the state finite and below ``limit`` in magnitude."""
    ok = None
    for value in state.values():
        if not torch.is_tensor(value) or not value.is_floating_point() or value.ndim == 0:
            continue
        good = ~any_beyond(value, limit)
        ok = good if ok is None else ok & good
    return ok


def auto_chunk_size(bytes_per_run: int, device: torch.device, fraction: float = 0.25, cap: int = 1 << 20,
                    budget: int | None = None) -> int:
    """Runs per chunk so that a chunk uses at most ``fraction`` of the memory it may use: the free
    memory of the device, and on the CPU also the job's own ``budget`` (default: the one set by
    :func:`memory_budget`), whichever is smaller."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
    else:
        import psutil

        free = psutil.virtual_memory().available
        budget = _MEMORY_BUDGET.get() if budget is None else budget
        if budget is not None:
            free = min(free, budget)
    return int(max(1, min(cap, fraction * free // max(1, bytes_per_run))))


def _where_runs(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.reshape(-1, *([1] * (new.ndim - 1))), new, old)


def train_batched(
    init: Callable,
    step: Callable,
    observe: Callable,
    n_steps: int,
    record_at: np.ndarray,
    params: Mapping[str, np.ndarray],
    keys: np.ndarray,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    is_diverged: Callable | None = None,
    chunk_size: int | None = None,
    bytes_per_run: int | None = None,
    group_by: np.ndarray | None = None,
) -> Trajectory:
    """Run ``n_steps`` iterations for every run; record ``observe`` at the steps ``record_at``.

    ``params``: per-run parameter arrays (length n_runs), e.g. a flattened :class:`Grid`;
    ``keys``: per-run Philox keys from :func:`sgdrepro.core.seeding.run_keys`.
    Step ``k`` (0-based) maps the state after k iterations to the state after k + 1;
    ``record_at`` holds iteration counts in [0, n_steps] (0 = the initial state).
    ``group_by``: optional per-run labels (e.g. the batch size); a chunk never mixes two
    labels, so a step can size its work to its own chunk (``b`` rows, not the grid's largest)
    instead of masking. Results come back in the runs' original order either way.
    """
    device = torch.device(device)
    record_at = np.asarray(record_at, dtype=np.int64)
    if record_at.size and (record_at.min() < 0 or record_at.max() > n_steps):
        raise ValueError("record_at must lie in [0, n_steps]")
    n_runs = len(keys)
    if chunk_size is None:
        chunk_size = auto_chunk_size(bytes_per_run, device) if bytes_per_run else n_runs
    chunk_size = max(1, min(chunk_size, n_runs))
    random = RunRandom(keys, device)
    progress = Progress(n_runs, n_steps, _PROGRESS_SECONDS.get())
    parts, order = [], []
    for index in _chunk_indices(n_runs, chunk_size, group_by):
        order.append(index)
        chunk = Chunk(
            group=None if group_by is None else np.asarray(group_by)[index[0]].item(),
            index=index,
            params={name: _as_tensor(values[index], device, dtype) for name, values in params.items()},
            random=random.subset(index),
            device=device,
            dtype=dtype,
        )
        parts.append(_train_chunk(init, step, observe, n_steps, record_at, chunk, is_diverged, progress))
        progress.chunk_done(len(index), int((parts[-1][2] >= 0).sum()))
        log.info("trained %d runs (%d-%d) of %d; %s", len(index), index[0], index[-1], n_runs, progress.line(0, 0, 0))
    back = np.argsort(np.concatenate(order), kind="stable")  # chunk order -> run order

    def gather(arrays):
        return np.concatenate(arrays)[back]

    return Trajectory(
        steps=record_at,
        records={k: gather([p[0][k] for p in parts]) for k in parts[0][0]},
        final={k: gather([p[1][k] for p in parts]) for k in parts[0][1]},
        diverged_step=gather([p[2] for p in parts]),
    )


def _chunk_indices(n_runs: int, chunk_size: int, group_by) -> list[np.ndarray]:
    """Run indices of each chunk: consecutive runs, split by ``group_by`` label when given."""
    if group_by is None:
        groups = [np.arange(n_runs)]
    else:
        labels = np.asarray(group_by)
        if labels.shape != (n_runs,):
            raise ValueError(f"group_by must hold one label per run ({n_runs}), got shape {labels.shape}")
        _, inverse = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]
    return [group[start:start + chunk_size] for group in groups for start in range(0, len(group), chunk_size)]


def _as_tensor(values: np.ndarray, device, dtype) -> torch.Tensor:
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return torch.as_tensor(values, dtype=dtype, device=device)
    return torch.as_tensor(values, device=device)


def _train_chunk(init, step, observe, n_steps, record_at, chunk: Chunk, is_diverged, progress: Progress):
    check = is_diverged or (lambda state: ~all_finite(state))
    started = progress.clock()
    state = init(chunk)
    progress.chunk_started(progress.clock() - started)
    diverged_step = torch.full((chunk.n_runs,), -1, dtype=torch.int64, device=chunk.device)
    wanted = set(record_at.tolist())
    # [runs, n_records, ...] arrays allocated once: thousands of small long-lived arrays, one per
    # record, interleaved with a step's large temporaries fragment the heap (measured: 10 GB
    # resident for 8 MB of records in a paper-scale job of two-layer nets)
    records: dict[str, np.ndarray] = {}
    filled = 0

    def record(k: int):
        nonlocal filled
        values = observe(state, k, chunk)
        dead = diverged_step >= 0
        for name, value in values.items():
            value = value.detach()
            if value.is_floating_point():
                value = _where_runs(dead, torch.full_like(value, float("nan")), value)
            value = value.cpu().numpy()
            if name not in records:
                records[name] = np.empty((value.shape[0], len(wanted), *value.shape[1:]), dtype=value.dtype)
            records[name][:, filled] = value
        filled += 1

    if 0 in wanted:
        record(0)
    # on the CPU reading a flag costs nothing, so the selects below start only once a run has
    # diverged; on a GPU they run every step and the mask stays on the device (no sync per step)
    select = chunk.device.type != "cpu"
    for k in range(n_steps):
        new = step(state, k, chunk)
        bad = check(new) & (diverged_step < 0)
        select = select or bool(bad.any())
        if select:
            diverged_step = torch.where(bad, torch.full_like(diverged_step, k + 1), diverged_step)
            alive = diverged_step < 0
            # entries the step passes through unchanged (masks, weights) need no select
            state = {name: _where_runs(alive, new[name], state[name])
                     if new[name] is not state.get(name) and _per_run(new[name], alive) else new[name]
                     for name in new}
        else:  # every run alive: the select would copy ``new`` unchanged
            state = new
        if k + 1 in wanted:
            record(k + 1)
        if progress.due():  # a clock read per step; the divergence count syncs only here
            progress.report(chunk.n_runs, k + 1, int((diverged_step >= 0).sum()))
    stacked = records
    final = {name: value.detach().cpu().numpy() for name, value in state.items() if _per_run(value, diverged_step)}
    return stacked, final, diverged_step.cpu().numpy()


def _per_run(value, mask) -> bool:
    return torch.is_tensor(value) and value.ndim >= 1 and value.shape[0] == mask.shape[0]
