"""dimensionless_odes (see ../shared/papers/dimensionless_odes.md): to be implemented."""
