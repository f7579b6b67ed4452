"""heavy_tail (see ../shared/papers/heavy_tail.md): to be implemented."""
