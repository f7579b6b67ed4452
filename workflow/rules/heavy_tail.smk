# heavy_tail: rules (filled in by the paper's issue)
