"""sgdrepro: reference reproductions of five papers on the dynamics of (stochastic) gradient descent."""

import pkgutil as _pkgutil
from importlib import metadata as _metadata

# a paper may live in another sgdrepro/ directory on sys.path (sgdrepro.core.manifest)
__path__ = _pkgutil.extend_path(__path__, __name__)

try:
    __version__ = _metadata.version("sgdrepro")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
