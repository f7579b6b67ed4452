"""large_step_sparse (see ../shared/papers/large_step_sparse.md): to be implemented."""
