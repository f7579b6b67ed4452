"""Numerical code paths fixed by the project, not by the CPU a job lands on.

Every library below picks its kernels at run time from the CPU's instruction sets, and the
kernels round differently (vector widths change summation orders, FMA fuses roundings, the
vectorized log/cos/exp are different approximations). Chaotic and long stochastic runs amplify
a last-bit difference into a different trajectory, so a result would depend on the machine.
With ``numerics: portable`` (the default) each job starts with these pinned, measured on the
tiny DAG (benchmarks/README.md, "Portable numerics"):

========================  =====================  ==========================================
variable                  value                  what it fixes
========================  =====================  ==========================================
ATEN_CPU_CAPABILITY       default                torch's own vectorized kernels (no AVX2/-512)
MKL_CBWR                  COMPATIBLE             MKL's BLAS (torch matmul) and VML (torch
                                                 log, exp, cos, tanh, erf): one code path
ONEDNN_MAX_CPU_ISA        SSE41                  oneDNN (torch's float32 convolutions)
OPENBLAS_CORETYPE         Prescott               numpy's and scipy's BLAS/LAPACK kernels
NPY_DISABLE_CPU_FEATURES  every dispatch target  numpy's SIMD exp/log/... (baseline loops)
GLIBC_TUNABLES            hwcaps -FMA,-AVX2      libm's FMA variants (math, scipy.special)
========================  =====================  ==========================================

They must be in the environment before the process starts (glibc reads its tunables at
exec, MKL and torch theirs when they load), so the workflow sets them once when the
Snakefile is read (:func:`apply`) and every job checks them (:func:`check`) before any
computation. ``numerics: native`` leaves the machine's own choice (faster; bitwise
identical only on the same machine). Deterministic algorithms are on in both modes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

__all__ = ["MODES", "NumericsError", "environment", "apply", "check", "describe", "deterministic"]

MODES = ("portable", "native")

ATEN_LEVEL = "default"
# numpy's run-time dispatch targets on x86-64 (numpy >= 2.4 groups; older names too): disabling
# one the machine lacks is allowed, disabling a baseline feature is not, so list dispatch targets only.
_NUMPY_DISPATCH = ("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR")
_GLIBC_MASK = ("-FMA", "-FMA4", "-AVX2")  # libm's ifunc variants that fuse or reorder roundings
_PINNED = {
    "ATEN_CPU_CAPABILITY": ATEN_LEVEL,
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "OPENBLAS_CORETYPE": "Prescott",
}
# CUDA: deterministic cuBLAS needs a fixed workspace (torch.use_deterministic_algorithms)
_ALWAYS = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}


class NumericsError(RuntimeError):
    """A job runs without the numerics environment its config asks for."""


def _merged_list(existing: str | None, extra, sep: str = ",") -> str:
    items = [item for item in (existing or "").split(sep) if item]
    return sep.join(items + [item for item in extra if item not in items])


def _merged_tunables(existing: str | None) -> str:
    """GLIBC_TUNABLES with our hwcaps mask added to any the environment already holds
    (tunables are ``name=value`` pairs separated by ':'; a later pair of the same name wins)."""
    pairs = [pair for pair in (existing or "").split(":") if pair]
    hwcaps = [pair.split("=", 1)[1] for pair in pairs if pair.startswith("glibc.cpu.hwcaps=")]
    others = [pair for pair in pairs if not pair.startswith("glibc.cpu.hwcaps=")]
    mask = _merged_list(hwcaps[-1] if hwcaps else None, _GLIBC_MASK)
    return ":".join(others + [f"glibc.cpu.hwcaps={mask}"])


def environment(mode: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a job of ``mode`` needs, given the environment ``base`` it starts from.

    Portable mode overrides the library pins and *adds* to the lists (numpy's disabled
    features, glibc's hwcaps mask) so that a restriction already in place stays.
    """
    if mode not in MODES:
        raise ValueError(f"numerics must be one of {', '.join(MODES)}, got {mode!r}")
    base = os.environ if base is None else base
    env = {"SGDREPRO_NUMERICS": mode, **_ALWAYS}
    if mode == "portable":
        env.update(_PINNED)
        env["NPY_DISABLE_CPU_FEATURES"] = _merged_list(base.get("NPY_DISABLE_CPU_FEATURES"), _NUMPY_DISPATCH)
        env["GLIBC_TUNABLES"] = _merged_tunables(base.get("GLIBC_TUNABLES"))
    return env


def apply(mode: str) -> dict[str, str]:
    """Put the environment of ``mode`` into ``os.environ`` (for the processes started after)."""
    env = environment(mode)
    os.environ.update(env)
    return env


def _missing(mode: str) -> list[str]:
    want = environment(mode, base=os.environ)
    missing = [f"{key}={value}" for key, value in want.items() if os.environ.get(key) != value]
    if mode == "portable" and "torch" in sys.modules:
        import torch

        level = torch.backends.cpu.get_cpu_capability().lower()
        if level != ATEN_LEVEL:
            missing.append(f"torch loaded at kernel level {level!r} (ATEN_CPU_CAPABILITY={ATEN_LEVEL} must be set "
                           "before torch is imported)")
    return missing


def check(mode: str) -> None:
    """Raise unless this process started with the environment of ``mode``."""
    missing = _missing(mode)
    if missing:
        raise NumericsError(
            f"config key 'numerics' = {mode!r} needs the job started with {', '.join(missing)}; run it through the "
            "workflow (the Snakefile sets them before any job starts), or set numerics: native")


def describe(mode: str) -> str:
    """Provenance: what ``mode`` pins, the same on every machine (a restriction the machine's
    environment adds to the lists is left out: it cannot change the numbers)."""
    return " ".join(f"{key}={value}" for key, value in sorted(environment(mode, base={}).items()))


def deterministic(device) -> None:
    """Deterministic algorithms on (CPU and CUDA; on CUDA with cuBLAS's fixed workspace)."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        for key, value in _ALWAYS.items():  # read by cuBLAS when CUDA first starts
            os.environ.setdefault(key, value)
    torch.use_deterministic_algorithms(True)
