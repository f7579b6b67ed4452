"""quadratic_chaos (see ../shared/papers/quadratic_chaos.md): to be implemented."""
