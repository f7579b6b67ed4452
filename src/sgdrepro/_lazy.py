"""Lazy package attributes: a paper's public names load on first use.

Snakemake imports every paper package on each invocation (``-n`` included) to run its
``check_config``; keeping torch, scipy and xarray out of that import keeps a no-op dry run fast.
"""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, exports: dict[str, str]):
    """``__getattr__`` for ``package``: ``{name: ".module"}`` or ``{name: ".module:attribute"}``."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = exports[name].partition(":")
        value = importlib.import_module(module, package)
        value = getattr(value, attribute) if attribute else value
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    return __getattr__
