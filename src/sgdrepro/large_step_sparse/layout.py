"""DenseNet layout arithmetic, without torch: the config check (run before any job) uses it."""

from __future__ import annotations

__all__ = ["layers_per_block"]


def layers_per_block(depth: int, bottleneck: bool, n_blocks: int = 3) -> int:
    """Layers per dense block, (depth - 4) / (2 * n_blocks) with bottlenecks, (depth - 4) / n_blocks
    without (the 4: stem, two transitions, classifier). Raises ValueError if it does not divide."""
    per_layer = 2 if bottleneck else 1
    layers, rest = divmod(depth - 4, per_layer * n_blocks)
    if layers < 1 or rest:
        raise ValueError(f"depth {depth} must be 4 + {per_layer * n_blocks} * n with n >= 1")
    return layers
