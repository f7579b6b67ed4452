# autoencoder_batch: Ghosh, Frei, Ha & Yu (JMLR 2025), single-neuron autoencoder, SGD batch size.
# One training rule (every b = 1..n, both activations, both orders, all seeds: one batched
# program), one rule per figure, one claims rule.

AUTOENCODER_BATCH_FIGURES = [
    "sparsity_vs_batch_size",
    "alignment_vs_batch_size",
    "sharpness_vs_batch_size",
    "coordinate_trajectories",
    "loss_vs_step",
]
AUTOENCODER_BATCH_MESSAGES = {
    "sparsity_vs_batch_size": "number of nonzero coordinates of the solution against the batch size",
    "alignment_vs_batch_size": "alignment of the solution with the (projected) initialization against the batch size",
    "sharpness_vs_batch_size": "trace of the Hessian at the solution against the batch size",
    "coordinate_trajectories": "coordinates c_i over training for b = n and b < n",
    "loss_vs_step": "excess loss over training for every batch size",
}

register_figures("autoencoder_batch", AUTOENCODER_BATCH_FIGURES)


rule autoencoder_batch_train_orthogonal:
    output:
        nc=data_path("autoencoder_batch", "orthogonal"),
    log:
        log_path("autoencoder_batch", "train_orthogonal"),
    benchmark:
        benchmark_path("autoencoder_batch", "train_orthogonal")
    threads: threads_of("train", "autoencoder_batch_train_orthogonal")
    resources:
        mem_mb=resource_of("train", "autoencoder_batch_train_orthogonal", "mem_mb"),
        runtime=resource_of("train", "autoencoder_batch_train_orthogonal", "runtime"),
        gpu=resource_of("train", "autoencoder_batch_train_orthogonal", "gpu"),
    params:
        paper="autoencoder_batch",
        experiment="orthogonal",
        cfg=experiment_cfg("autoencoder_batch", "orthogonal"),
        threads=threads_of("train", "autoencoder_batch_train_orthogonal"),
    message:
        "autoencoder_batch: SGD with every batch size 1..n on orthonormal data (linear and ReLU, reshuffled and cyclic)"
    script:
        "../../scripts/train.py"


for _autoencoder_batch_figure in AUTOENCODER_BATCH_FIGURES:

    rule:
        name:
            f"autoencoder_batch_{_autoencoder_batch_figure}"
        input:
            orthogonal=rules.autoencoder_batch_train_orthogonal.output.nc,
        output:
            **figure_paths("autoencoder_batch", _autoencoder_batch_figure),
        log:
            log_path("autoencoder_batch", _autoencoder_batch_figure),
        localrule: True
        threads: 1
        resources:
            mem_mb=resource_of("light", f"autoencoder_batch_{_autoencoder_batch_figure}", "mem_mb"),
            runtime=resource_of("light", f"autoencoder_batch_{_autoencoder_batch_figure}", "runtime"),
        params:
            paper="autoencoder_batch",
            figure=_autoencoder_batch_figure,
            cfg=paper_cfg("autoencoder_batch"),
        message:
            f"autoencoder_batch: {AUTOENCODER_BATCH_MESSAGES[_autoencoder_batch_figure]}"
        script:
            "../../scripts/figure.py"


rule autoencoder_batch_claims:
    input:
        orthogonal=rules.autoencoder_batch_train_orthogonal.output.nc,
    output:
        json=claims_path("autoencoder_batch"),
    log:
        log_path("autoencoder_batch", "claims"),
    threads: 1
    params:
        paper="autoencoder_batch",
        cfg=paper_cfg("autoencoder_batch"),
    message:
        "autoencoder_batch: measuring the paper's claims from the stored trajectories"
    script:
        "../../scripts/claims.py"


localrules:
    autoencoder_batch_claims,
