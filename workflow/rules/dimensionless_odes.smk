# dimensionless_odes: rules (filled in by the paper's issue)
