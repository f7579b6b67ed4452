# quadratic_chaos: rules (filled in by the paper's issue)
