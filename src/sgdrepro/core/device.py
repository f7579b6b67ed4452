"""Device and dtype selection: ``device: auto`` is CUDA when present, else CPU."""

from __future__ import annotations

import torch

__all__ = ["resolve_device", "resolve_dtype"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available else cpu; 'cpu' / 'cuda' as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str = "float64") -> torch.dtype:
    """float64 by default: the small synthetic models are cheap and tails need the precision."""
    return _DTYPES[name]
