"""Portable numerics: the project pins every CPU code path, so the numbers do not depend on the machine.

- :mod:`sgdrepro.core.numerics` builds the job environment (pins, and lists merged with what the
  machine's environment already restricts) and a job refuses to run without it.
- A probe of the operations the trainers use (Philox normals through MKL's log/cos, float64 and
  float32 matmuls, a float32 convolution, torch's own fused and transcendental kernels, numpy's
  and scipy's BLAS and SIMD loops, libm through Python's math) runs in fresh processes told to use
  each instruction-set level this CPU supports, the way another x86-64 machine would: in portable
  numerics every level gives the same bits; in native numerics the levels differ (the knobs are
  real, so the first result is not vacuous). The whole tiny DAG is compared the same way between
  this CPU and the oldest level in tests/core/test_determinism.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sgdrepro.core import numerics

# What a machine of each level would choose (ATen names), told to every dispatching library.
LEVELS = {
    "default": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "OPENBLAS_CORETYPE": "Prescott", "NPY_DISABLE_CPU_FEATURES": "X86_V3,X86_V4,AVX512_ICL",
                "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-AVX"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL",
             "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"},
    "avx512": {},  # the machine's own choice on an AVX-512 CPU
}

PROBE = r'''
import hashlib, json, math, os, sys
import numpy as np, scipy.linalg, scipy.special, torch
from sgdrepro.core import numerics
from sgdrepro.core.seeding import RunRandom
numerics.check(os.environ.get("SGDREPRO_NUMERICS", "native"))
g = np.random.default_rng(0)
def exact(*shape):  # inputs from integer draws only: the same bits whatever the CPU
    return g.integers(1, 2**31, size=shape) / 2**29 - 2.0
def h(a):
    a = a.detach().numpy() if torch.is_tensor(a) else np.asarray(a)
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]
x, y = torch.from_numpy(exact(97, 65)), torch.from_numpy(exact(65, 83))
img, w = torch.from_numpy(exact(4, 3, 12, 12)).float(), torch.from_numpy(exact(5, 3, 3, 3)).float()
a = exact(120, 120)
out = {
    "philox_normal": h(RunRandom(np.arange(32 * 2).reshape(32, 2)).normal("probe", 7, (500,))),
    "matmul_f64": h(x @ y), "matmul_f32": h(x.float() @ y.float()),
    "conv2d_f32": h(torch.nn.functional.conv2d(img, w, padding=1)),
    "addcmul": h(x.addcmul(x, x, value=0.3)), "pow": h(x.abs().pow(1.7)), "log1p": h(x.abs().log1p()),
    "softmax": h(x.softmax(1)), "sigmoid": h(x.sigmoid()), "exp": h(x.exp()), "erf": h(x.erf()),
    "numpy_matmul": h(a @ a), "numpy_exp": h(np.exp(a)), "numpy_log": h(np.log(np.abs(a))),
    "scipy_eigvalsh": h(scipy.linalg.eigvalsh(a + a.T)), "scipy_erf": h(scipy.special.erf(a)),
    "libm": h([math.sin(v) + math.exp(v / 4) for v in a.ravel()[:4000]]),
    "level": torch.backends.cpu.get_cpu_capability().lower(),
}
print(json.dumps(out))
'''


def _probe(mode: str, level: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LEVELS["default"] and k != "SGDREPRO_NUMERICS"}
    env.update(LEVELS[level])
    env.update(numerics.environment(mode, base=env))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def _native_level() -> str:
    return _probe("native", "avx512")["level"]


@pytest.fixture(scope="module")
def levels() -> list[str]:
    native = _native_level()
    order = ["default", "avx2", "avx512"]
    return order[: order.index(native) + 1] if native in order else ["default"]


def test_portable_numbers_are_the_same_at_every_level(levels):
    results = {level: _probe("portable", level) for level in levels}
    for level, result in results.items():
        assert result.pop("level") == numerics.ATEN_LEVEL, level
    first = results[levels[0]]
    for level, result in results.items():
        assert result == first, (level, {op: (first[op], result[op]) for op in first if first[op] != result[op]})


def test_native_numbers_change_with_the_level(levels):
    if len(levels) < 2:
        pytest.skip("this CPU has only the baseline level: there is no other level to compare with")
    low, high = _probe("native", levels[0]), _probe("native", levels[-1])
    assert low.pop("level") != high.pop("level")
    changed = sorted(op for op in low if low[op] != high[op])
    # MKL's kernels (normals through its log/cos, the matmuls) always differ between the levels;
    # which others do depends on the CPU
    assert {"philox_normal", "matmul_f64"} <= set(changed), changed


def test_environment_pins_and_merges():
    env = numerics.environment("portable", base={"GLIBC_TUNABLES": "glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX512F",
                                                 "NPY_DISABLE_CPU_FEATURES": "AVX512_ICL"})
    assert env["ATEN_CPU_CAPABILITY"] == "default" and env["MKL_CBWR"] == "COMPATIBLE"
    assert env["ONEDNN_MAX_CPU_ISA"] == "SSE41" and env["OPENBLAS_CORETYPE"] == "Prescott"
    # a restriction already in place stays, ours is added
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX512F,-FMA,-FMA4,-AVX2"
    assert env["NPY_DISABLE_CPU_FEATURES"].split(",")[0] == "AVX512_ICL"
    assert {"X86_V3", "X86_V4"} <= set(env["NPY_DISABLE_CPU_FEATURES"].split(","))
    native = numerics.environment("native", base={})
    assert native == {"SGDREPRO_NUMERICS": "native", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    with pytest.raises(ValueError, match="portable, native"):
        numerics.environment("fast")


def test_a_job_without_the_environment_refuses_to_run():
    env = {k: v for k, v in os.environ.items() if k not in numerics.environment("portable", base={})}
    code = "from sgdrepro.core import numerics; import torch; numerics.check('portable')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "config key 'numerics' = 'portable'" in out.stderr and "MKL_CBWR=COMPATIBLE" in out.stderr
    assert "GLIBC_TUNABLES=" in out.stderr and "set numerics: native" in out.stderr


@pytest.mark.slow
def test_stored_trajectories_record_their_numerics(tiny_results):
    import xarray as xr

    paths = sorted(tiny_results.glob("*/data/*.nc"))
    assert paths
    for path in paths:
        with xr.open_dataset(path) as ds:
            assert ds.attrs["numerics"] == "portable", path
            assert "MKL_CBWR=COMPATIBLE" in ds.attrs["numerics_env"], path
