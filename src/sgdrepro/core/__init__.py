"""The spine shared by every paper: grids, seeding, batched training, storage, figures, claims.

Names are imported lazily so that config validation (which Snakemake runs on every
invocation, ``-n`` included) does not pay for importing torch, xarray and matplotlib.
"""

from sgdrepro._lazy import lazy_exports

_MODULES = {
    "Claim": "claims", "read_claims": "claims", "write_claims": "claims",
    "ConfigError": "config", "check_at_most": "config",
    "config_digest": "config", "scale_config": "config",
    "resolve_device": "device", "resolve_dtype": "device",
    "RunContext": "entry",
    "new_figure": "figures", "save_figure": "figures",
    "Grid": "grids",
    "log_spaced_steps": "schedule", "record_steps": "schedule", "strided_steps": "schedule",
    "RunRandom": "seeding", "numpy_rng": "seeding", "run_keys": "seeding", "seed_sequence": "seeding",
    "read_dataset": "store", "write_dataset": "store",
    "Chunk": "trainer", "Trajectory": "trainer", "train_batched": "trainer",
}

__all__ = sorted(_MODULES)
__getattr__ = lazy_exports(__name__, {name: f".{module}:{name}" for name, module in _MODULES.items()})


def __dir__():
    return __all__
