"""Parameter grids: a config mapping ``{name: [values]}`` becomes named coordinates.

Runs of a grid are laid out in C order along one flat "run" axis, which is how the batched
trainers see them; :meth:`Grid.unflatten` and :meth:`Grid.dataset` put the named dims back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """An ordered cartesian product of named coordinate values."""

    coords: dict[str, np.ndarray]

    @classmethod
    def from_config(cls, grid: Mapping[str, Sequence], order: Sequence[str] | None = None) -> Grid:
        """Build from config; ``order`` fixes the dim order (default: the mapping's order).

        A scalar value is a one-point axis, so a user can pin a dim with ``--config``.
        """
        names = list(order) if order is not None else list(grid)
        coords = {}
        for name in names:
            values = grid[name]
            values = list(values) if isinstance(values, (list, tuple, np.ndarray)) else [values]
            if len(values) == 0:
                raise ValueError(f"grid dim '{name}' is empty")
            coords[name] = np.asarray(values)
        return cls(coords)

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.coords)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.coords.values())

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def flat(self) -> dict[str, np.ndarray]:
        """Each dim's value for every run, as flat arrays of length ``size`` (C order)."""
        mesh = np.meshgrid(*self.coords.values(), indexing="ij")
        return {name: m.reshape(-1) for name, m in zip(self.dims, mesh)}

    def paired(self, dim: str, values: Sequence) -> np.ndarray:
        """Per run (C order), the entry of ``values`` paired with the run's coordinate on ``dim``:
        a config list given once per coordinate of a grid dim (a decay factor per decay time, a
        step size per phase length), ``values[i]`` belonging to the i-th coordinate."""
        values = np.asarray(values)
        if len(values) != len(self.coords[dim]):
            raise ValueError(f"{len(values)} values paired with the {len(self.coords[dim])} coordinates of '{dim}'")
        return values[np.indices(self.shape)[self.dims.index(dim)].reshape(-1)]

    def points(self) -> Iterator[dict]:
        """The grid points in run order, as plain-Python dicts."""
        flat = self.flat()
        for i in range(self.size):
            yield {name: flat[name][i].item() for name in self.dims}

    def unflatten(self, array: np.ndarray) -> np.ndarray:
        """Reshape a leading run axis of length ``size`` into the grid's shape."""
        array = np.asarray(array)
        return array.reshape(self.shape + array.shape[1:])

    def dataset(
        self,
        variables: Mapping[str, tuple[Sequence[str], np.ndarray, Mapping]],
        coords: Mapping[str, object] | None = None,
        attrs: Mapping | None = None,
    ) -> xr.Dataset:
        """Dataset from per-run arrays: ``{name: (extra_dims, array[run, ...], attrs)}``.

        ``attrs`` of each variable must carry ``units`` and ``long_name``.
        """
        data_vars = {}
        for name, (extra_dims, array, var_attrs) in variables.items():
            missing = {"units", "long_name"} - set(var_attrs)
            if missing:
                raise ValueError(f"variable '{name}' lacks attrs {sorted(missing)}")
            data_vars[name] = (self.dims + tuple(extra_dims), self.unflatten(array), dict(var_attrs))
        all_coords = {name: values for name, values in self.coords.items()}
        all_coords.update(coords or {})
        return xr.Dataset(data_vars, coords=all_coords, attrs=dict(attrs or {}))
