# sgdrepro: one DAG for the figures and claims of five papers on (S)GD dynamics.
# Table of contents only: config, rule files, default target.


configfile: f"{workflow.basedir}/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/heavy_tail.smk"
include: "workflow/rules/dimensionless_odes.smk"
include: "workflow/rules/quadratic_chaos.smk"
include: "workflow/rules/autoencoder_batch.smk"
include: "workflow/rules/large_step_sparse.smk"


rule all:
    default_target: True
    input:
        all_targets,
