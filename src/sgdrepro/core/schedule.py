"""Recording schedules: which steps of a run are stored (memory stays bounded)."""

from __future__ import annotations

import numpy as np

__all__ = ["log_spaced_steps", "strided_steps", "record_steps"]


def log_spaced_steps(n_steps: int, n_points: int, include_zero: bool = True) -> np.ndarray:
    """About ``n_points`` distinct integer steps log-spaced in [1, n_steps] (plus 0)."""
    steps = np.unique(np.round(np.geomspace(1, n_steps, n_points)).astype(np.int64))
    return np.concatenate([[0], steps]) if include_zero else steps


def strided_steps(start: int, stop: int, stride: int) -> np.ndarray:
    """Every ``stride``-th step in [start, stop] (``stop`` included when it falls on the stride)."""
    return np.arange(start, stop + 1, stride, dtype=np.int64)


def record_steps(schedule: dict, n_steps: int) -> np.ndarray:
    """Schedule from config: ``{kind: log, points: N}`` or ``{kind: stride, start, stride}``."""
    if schedule["kind"] == "log":
        return log_spaced_steps(n_steps, int(schedule["points"]))
    if schedule["kind"] == "stride":
        return strided_steps(int(schedule.get("start", 0)), n_steps, int(schedule["stride"]))
    raise ValueError(f"unknown schedule kind {schedule['kind']!r}")
