# large_step_sparse: rules (filled in by the paper's issue)
