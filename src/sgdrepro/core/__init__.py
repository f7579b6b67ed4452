"""The spine shared by every paper: grids, seeding, batched training, storage, figures, claims."""

from .claims import Claim, read_claims, write_claims
from .config import ConfigError, check_at_most, check_positive, config_digest, scale_config
from .device import resolve_device, resolve_dtype
from .entry import RunContext
from .figures import new_figure, save_figure
from .grids import Grid
from .schedule import log_spaced_steps, record_steps, strided_steps
from .seeding import RunRandom, numpy_rng, run_keys, seed_sequence, torch_generator
from .store import read_dataset, write_dataset
from .trainer import Chunk, Trajectory, train_batched

__all__ = [
    "Claim", "read_claims", "write_claims",
    "ConfigError", "check_at_most", "check_positive", "config_digest", "scale_config",
    "resolve_device", "resolve_dtype", "RunContext", "new_figure", "save_figure", "Grid",
    "log_spaced_steps", "record_steps", "strided_steps",
    "RunRandom", "numpy_rng", "run_keys", "seed_sequence", "torch_generator",
    "read_dataset", "write_dataset", "Chunk", "Trajectory", "train_batched",
]
