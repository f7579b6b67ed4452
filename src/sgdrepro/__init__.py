"""sgdrepro: reference reproductions of five papers on the dynamics of (stochastic) gradient descent."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("sgdrepro")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

PAPERS = (
    "heavy_tail",
    "dimensionless_odes",
    "quadratic_chaos",
    "autoencoder_batch",
    "large_step_sparse",
)
