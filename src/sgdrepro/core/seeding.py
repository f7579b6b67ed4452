"""Seeding: every run gets its own key, and its random numbers depend on nothing else.

A run's key is derived with :class:`numpy.random.SeedSequence` from (root seed, experiment,
grid point, seed index). Batched trainers draw from :class:`RunRandom`, a counter-based
generator (Philox4x32-10, Salmon et al., SC 2011) evaluated in torch: the value at
(run key, stream, step, element) is a pure function of those four, so a run draws the same
numbers whichever runs share its batch, however the grid is chunked, on any number of cores
and (up to the last bit of the transcendental functions) on CPU or CUDA.

On the CPU the Philox words come from a compiled loop (``_philox.c``, built at install time
where a C compiler exists) and otherwise from the same function in torch ops; both are
integer arithmetic, so the words are the same bits either way (tests/core/test_seeding.py).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from .config import canonical_json

try:
    from . import _philox as _compiled_philox
except ImportError:  # installed without a C compiler: the same words through torch ops
    _compiled_philox = None

__all__ = [
    "seed_sequence",
    "run_keys",
    "numpy_rng",
    "philox4x32",
    "RunRandom",
    "box_muller",
]

_MASK32 = 0xFFFFFFFF
_PHILOX_M = (0xD2511F53, 0xCD9E8D57)
_PHILOX_W = (0x9E3779B9, 0xBB67AE85)
_WORDS, _UNIFORM32, _UNIFORM53 = 0, 1, 2  # what the compiled loop fills (enum kind in _philox.c)


def _words(text: str, n: int = 4) -> list[int]:
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(n)]


def seed_sequence(experiment: str, point: Mapping, seed: int, root_seed: int = 0) -> np.random.SeedSequence:
    """SeedSequence of one run: (root seed, experiment, grid point without seed, seed index)."""
    point = {k: v for k, v in point.items() if k != "seed"}
    entropy = [int(root_seed), *_words(experiment), *_words(canonical_json(point)), int(seed)]
    return np.random.SeedSequence(entropy)


def run_keys(
    experiment: str,
    points: Iterable[Mapping],
    root_seed: int = 0,
    key_dims: Sequence[str] | None = None,
) -> np.ndarray:
    """Philox keys ``uint32[n_runs, 2]`` for grid points (dicts that hold a ``seed`` index).

    ``key_dims`` restricts which dims the randomness depends on: with ``key_dims=("seed",)``
    runs that differ only in, say, step size share their data and initialisation (common
    random numbers), which is what a bifurcation diagram over step sizes needs.
    """
    keys = []
    for point in points:
        seed = int(point.get("seed", 0))
        kept = point if key_dims is None else {k: point[k] for k in key_dims if k in point}
        keys.append(seed_sequence(experiment, kept, seed, root_seed).generate_state(2, dtype=np.uint32))
    return np.asarray(keys, dtype=np.uint32).reshape(-1, 2)


def numpy_rng(experiment: str, point: Mapping, seed: int, root_seed: int = 0) -> np.random.Generator:
    """A numpy Generator for one run (for code that is not batched)."""
    return np.random.default_rng(seed_sequence(experiment, point, seed, root_seed))


def _mulhilo(multiplier: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """High and low 32 bits of multiplier * x for 32-bit x.

    The 64-bit product may exceed int64's range; integer tensors wrap modulo 2**64 on every
    torch backend, which keeps both halves exact (the known-answer tests check it).
    """
    product = x * multiplier
    return product.bitwise_right_shift(32).bitwise_and_(_MASK32), product.bitwise_and_(_MASK32)


def philox4x32(
    counter: Sequence[torch.Tensor], key: Sequence[torch.Tensor], rounds: int = 10
) -> tuple[torch.Tensor, ...]:
    """Philox4x32 block function on int64 tensors holding 32-bit words (broadcasting)."""
    c0, c1, c2, c3 = (torch.broadcast_tensors(*counter, *key)[i] for i in range(4))
    k0, k1 = key
    for r in range(rounds):
        if r:
            k0 = (k0 + _PHILOX_W[0]) & _MASK32
            k1 = (k1 + _PHILOX_W[1]) & _MASK32
        hi0, lo0 = _mulhilo(_PHILOX_M[0], c0)
        hi1, lo1 = _mulhilo(_PHILOX_M[1], c2)
        c0, c1, c2, c3 = hi1.bitwise_xor_(c1).bitwise_xor_(k0), lo1, hi0.bitwise_xor_(c3).bitwise_xor_(k1), lo0
    return c0, c1, c2, c3


def box_muller(words: torch.Tensor) -> torch.Tensor:
    """Standard normals float64 ``[runs, 2h]`` from 32-bit words ``int64[runs, 2h]`` by
    Box-Muller: words i and h + i give the normals at i (cosine) and h + i (sine)."""
    return _box_muller_uniforms(words.to(torch.float64).add_(0.5).mul_(2.0**-32))


def _box_muller_uniforms(u: torch.Tensor) -> torch.Tensor:
    """:func:`box_muller` from the uniforms ``(w + 1/2) 2**-32`` of the words."""
    runs, n = u.shape
    u = u.view(runs, 2, n // 2)
    radius = u[:, 0].log().mul_(-2.0).sqrt_()
    angle = u[:, 1].mul(2.0 * math.pi)
    return torch.cat([angle.cos().mul_(radius), angle.sin_().mul_(radius)], dim=1)


def _counter(stream: str | int, step: int) -> tuple[int, int, int]:
    """Counter words 1-3 of a (stream, step): the step's low and high 32 bits, the stream's id."""
    step = int(step)
    if not 0 <= step < 1 << 64:
        raise ValueError(f"step must be in [0, 2**64), got {step}")
    return step & _MASK32, step >> 32, _stream_id(stream)


def _stream_id(stream: str | int) -> int:
    """The counter's third word: a stream's name hashed, or a 32-bit integer as given."""
    if isinstance(stream, str):
        return _words(stream, 1)[0]
    if not 0 <= stream <= _MASK32:
        raise ValueError(f"stream must be a name or an integer in [0, 2**32), got {stream!r}")
    return stream


class RunRandom:
    """Counter-based random numbers for a batch of runs (leading axis = run).

    ``stream`` names what the numbers are for ("init", "data", "batch", ...) and ``step``
    the iteration; the same (key, stream, step) always gives the same numbers.
    """

    def __init__(self, keys: np.ndarray, device: torch.device | str = "cpu"):
        keys = np.ascontiguousarray(np.asarray(keys, dtype=np.int64).reshape(-1, 2))
        self.device = torch.device(device)
        self.keys = torch.as_tensor(keys, device=self.device)

    @property
    def n_runs(self) -> int:
        return self.keys.shape[0]

    def subset(self, index) -> RunRandom:
        """Generator for a subset of the runs (a chunk), with the same per-run streams."""
        return RunRandom(self.keys[index].cpu().numpy(), self.device)

    def bits(self, stream: str | int, step: int, n_words: int) -> torch.Tensor:
        """``int64[n_runs, n_words]`` of uniformly random 32-bit words: word 4i + j of a run is
        word j of Philox4x32-10 at counter (i, step mod 2**32, step div 2**32, stream) and the
        run's key."""
        if self._compiled:
            return self._fill(_WORDS, stream, step, n_words, torch.int64)
        return self._bits_torch(*_counter(stream, step), n_words)

    @property
    def _compiled(self) -> bool:
        return self.device.type == "cpu" and _compiled_philox is not None

    def _fill(self, kind: int, stream: str | int, step: int, n: int, dtype: torch.dtype) -> torch.Tensor:
        """``[n_runs, n]`` from the compiled loop: words, or uniforms made of them (``_philox.c``)."""
        out = torch.empty((self.n_runs, n), dtype=dtype)
        _compiled_philox.fill(kind, self.keys.numpy(), out.numpy(), *_counter(stream, step))
        return out

    def _bits_torch(self, c1: int, c2: int, c3: int, n_words: int) -> torch.Tensor:
        """:meth:`bits` through :func:`philox4x32` in torch ops (CUDA, or no compiled loop)."""
        n_blocks = -(-n_words // 4)
        block = torch.arange(n_blocks, device=self.device, dtype=torch.int64).unsqueeze(0)
        zeros = torch.zeros_like(block)
        counter = (block, zeros + c1, zeros + c2, zeros + c3)
        key = (self.keys[:, :1], self.keys[:, 1:])
        out = torch.stack(philox4x32(counter, key), dim=-1)  # [runs, blocks, 4]
        return out.reshape(self.n_runs, 4 * n_blocks)[:, :n_words]

    def uniform(
        self, stream: str | int, step: int, shape: Sequence[int] = (), dtype: torch.dtype = torch.float64
    ) -> torch.Tensor:
        """Uniform on the open interval (0, 1), shape ``[n_runs, *shape]``."""
        n = math.prod(shape)
        if dtype == torch.float64 and self._compiled:
            values = self._fill(_UNIFORM53, stream, step, n, torch.float64)
        elif dtype == torch.float64:
            words = self.bits(stream, step, 2 * n).view(self.n_runs, n, 2)
            mantissa = (words[..., 0] >> 5) * 67108864 + (words[..., 1] >> 6)  # 53 bits
            values = (mantissa.to(torch.float64) + 0.5) * 2.0**-53
        else:
            words = self.bits(stream, step, n)
            values = ((words >> 8).to(torch.float64) + 0.5) * 2.0**-24
        return values.to(dtype).reshape(self.n_runs, *shape)

    def normal(
        self, stream: str | int, step: int, shape: Sequence[int] = (), dtype: torch.dtype = torch.float64
    ) -> torch.Tensor:
        """Standard normal by Box-Muller (:func:`box_muller`), shape ``[n_runs, *shape]``.

        One 32-bit word per uniform: resolution 2**-32 bounds |z| below 6.7, far beyond what
        any experiment here resolves, at half the cost of 53-bit uniforms.
        """
        n = math.prod(shape)
        n_words = 2 * -(-n // 2)
        if self._compiled:
            z = _box_muller_uniforms(self._fill(_UNIFORM32, stream, step, n_words, torch.float64))
        else:
            z = box_muller(self.bits(stream, step, n_words))
        return z[:, :n].to(dtype).reshape(self.n_runs, *shape)

    def randint(self, stream: str | int, step: int, shape: Sequence[int], high) -> torch.Tensor:
        """Integers in [0, high) (``high`` an int or a per-run tensor), shape ``[n_runs, *shape]``."""
        u = self.uniform(stream, step, shape)
        if torch.is_tensor(high):
            high = high.to(self.device).reshape(-1, *([1] * len(shape)))
        return torch.clamp((u * high).floor().to(torch.int64), max=torch.as_tensor(high) - 1)

    def permutation(self, stream: str | int, step: int, n: int) -> torch.Tensor:
        """A uniformly random permutation of 0..n-1 per run, ``int64[n_runs, n]``."""
        return torch.argsort(self.uniform(stream, step, (n,)), dim=1)
