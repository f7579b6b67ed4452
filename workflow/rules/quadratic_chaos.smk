# quadratic_chaos: GD on quadratic regression, from stability to chaos (arXiv 2310.01687).
# Figures are named for what they show (the paper's numbering could not be established).

register_figures(
    "quadratic_chaos",
    [
        "loss_curves_orthogonal",
        "bifurcation",
        "loss_curves_gaussian",
        "phase_map_gaussian",
        "generalization",
    ],
)


rule quadratic_chaos_train_orthogonal:
    output:
        nc=data_path("quadratic_chaos", "orthogonal"),
    log:
        log_path("quadratic_chaos", "train_orthogonal"),
    benchmark:
        benchmark_path("quadratic_chaos", "train_orthogonal")
    threads: threads_of("train", "quadratic_chaos_train_orthogonal")
    resources:
        mem_mb=resource_of("train", "quadratic_chaos_train_orthogonal", "mem_mb"),
        runtime=resource_of("train", "quadratic_chaos_train_orthogonal", "runtime"),
        gpu=resource_of("train", "quadratic_chaos_train_orthogonal", "gpu"),
    params:
        paper="quadratic_chaos",
        experiment="orthogonal",
        cfg=experiment_cfg("quadratic_chaos", "orthogonal"),
        threads=threads_of("train", "quadratic_chaos_train_orthogonal"),
    message:
        "quadratic_chaos: full-batch GD, phase retrieval and two-layer net on orthonormal data, one step size per phase"
    script:
        "../../scripts/train.py"


rule quadratic_chaos_train_bifurcation:
    output:
        nc=data_path("quadratic_chaos", "bifurcation"),
    log:
        log_path("quadratic_chaos", "train_bifurcation"),
    benchmark:
        benchmark_path("quadratic_chaos", "train_bifurcation")
    threads: threads_of("train", "quadratic_chaos_train_bifurcation")
    resources:
        mem_mb=resource_of("train", "quadratic_chaos_train_bifurcation", "mem_mb"),
        runtime=resource_of("train", "quadratic_chaos_train_bifurcation", "runtime"),
        gpu=resource_of("train", "quadratic_chaos_train_bifurcation", "gpu"),
    params:
        paper="quadratic_chaos",
        experiment="bifurcation",
        cfg=experiment_cfg("quadratic_chaos", "bifurcation"),
        threads=threads_of("train", "quadratic_chaos_train_bifurcation"),
    message:
        "quadratic_chaos: full-batch GD, phase retrieval on orthonormal data over a fine grid of normalised step sizes"
    script:
        "../../scripts/train.py"


rule quadratic_chaos_train_gaussian_losses:
    output:
        nc=data_path("quadratic_chaos", "gaussian_losses"),
    log:
        log_path("quadratic_chaos", "train_gaussian_losses"),
    benchmark:
        benchmark_path("quadratic_chaos", "train_gaussian_losses")
    threads: threads_of("train", "quadratic_chaos_train_gaussian_losses")
    resources:
        mem_mb=resource_of("train", "quadratic_chaos_train_gaussian_losses", "mem_mb"),
        runtime=resource_of("train", "quadratic_chaos_train_gaussian_losses", "runtime"),
        gpu=resource_of("train", "quadratic_chaos_train_gaussian_losses", "gpu"),
    params:
        paper="quadratic_chaos",
        experiment="gaussian_losses",
        cfg=experiment_cfg("quadratic_chaos", "gaussian_losses"),
        threads=threads_of("train", "quadratic_chaos_train_gaussian_losses"),
    message:
        "quadratic_chaos: full-batch GD, phase retrieval and two-layer net on Gaussian data, one step size per phase"
    script:
        "../../scripts/train.py"


rule quadratic_chaos_train_gaussian_phase_map:
    output:
        nc=data_path("quadratic_chaos", "gaussian_phase_map"),
    log:
        log_path("quadratic_chaos", "train_gaussian_phase_map"),
    benchmark:
        benchmark_path("quadratic_chaos", "train_gaussian_phase_map")
    threads: threads_of("train", "quadratic_chaos_train_gaussian_phase_map")
    resources:
        mem_mb=resource_of("train", "quadratic_chaos_train_gaussian_phase_map", "mem_mb"),
        runtime=resource_of("train", "quadratic_chaos_train_gaussian_phase_map", "runtime"),
        gpu=resource_of("train", "quadratic_chaos_train_gaussian_phase_map", "gpu"),
    params:
        paper="quadratic_chaos",
        experiment="gaussian_phase_map",
        cfg=experiment_cfg("quadratic_chaos", "gaussian_phase_map"),
        threads=threads_of("train", "quadratic_chaos_train_gaussian_phase_map"),
    message:
        "quadratic_chaos: full-batch GD, phase retrieval on Gaussian data over step size and sample size"
    script:
        "../../scripts/train.py"


rule quadratic_chaos_train_generalization:
    output:
        nc=data_path("quadratic_chaos", "generalization"),
    log:
        log_path("quadratic_chaos", "train_generalization"),
    benchmark:
        benchmark_path("quadratic_chaos", "train_generalization")
    threads: threads_of("train", "quadratic_chaos_train_generalization")
    resources:
        mem_mb=resource_of("train", "quadratic_chaos_train_generalization", "mem_mb"),
        runtime=resource_of("train", "quadratic_chaos_train_generalization", "runtime"),
        gpu=resource_of("train", "quadratic_chaos_train_generalization", "gpu"),
    params:
        paper="quadratic_chaos",
        experiment="generalization",
        cfg=experiment_cfg("quadratic_chaos", "generalization"),
        threads=threads_of("train", "quadratic_chaos_train_generalization"),
    message:
        "quadratic_chaos: full-batch GD, two-layer net on Gaussian data, last iterate and ergodic average"
    script:
        "../../scripts/train.py"


rule quadratic_chaos_loss_curves_orthogonal:
    input:
        orthogonal=rules.quadratic_chaos_train_orthogonal.output.nc,
    output:
        **figure_paths("quadratic_chaos", "loss_curves_orthogonal"),
    log:
        log_path("quadratic_chaos", "loss_curves_orthogonal"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "quadratic_chaos_loss_curves_orthogonal", "mem_mb"),
        runtime=resource_of("light", "quadratic_chaos_loss_curves_orthogonal", "runtime"),
    params:
        paper="quadratic_chaos",
        figure="loss_curves_orthogonal",
        cfg=paper_cfg("quadratic_chaos"),
    message:
        "quadratic_chaos: training loss curves on orthonormal data, one panel per phase and model"
    script:
        "../../scripts/figure.py"


rule quadratic_chaos_bifurcation:
    input:
        bifurcation=rules.quadratic_chaos_train_bifurcation.output.nc,
    output:
        **figure_paths("quadratic_chaos", "bifurcation"),
    log:
        log_path("quadratic_chaos", "bifurcation"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "quadratic_chaos_bifurcation", "mem_mb"),
        runtime=resource_of("light", "quadratic_chaos_bifurcation", "runtime"),
    params:
        paper="quadratic_chaos",
        figure="bifurcation",
        cfg=paper_cfg("quadratic_chaos"),
    message:
        "quadratic_chaos: bifurcation diagram of GD for phase retrieval on orthonormal data, late iterates and Lyapunov exponent against a"
    script:
        "../../scripts/figure.py"


rule quadratic_chaos_loss_curves_gaussian:
    input:
        gaussian_losses=rules.quadratic_chaos_train_gaussian_losses.output.nc,
    output:
        **figure_paths("quadratic_chaos", "loss_curves_gaussian"),
    log:
        log_path("quadratic_chaos", "loss_curves_gaussian"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "quadratic_chaos_loss_curves_gaussian", "mem_mb"),
        runtime=resource_of("light", "quadratic_chaos_loss_curves_gaussian", "runtime"),
    params:
        paper="quadratic_chaos",
        figure="loss_curves_gaussian",
        cfg=paper_cfg("quadratic_chaos"),
    message:
        "quadratic_chaos: training loss curves on Gaussian data, one panel per phase and model"
    script:
        "../../scripts/figure.py"


rule quadratic_chaos_phase_map_gaussian:
    input:
        gaussian_phase_map=rules.quadratic_chaos_train_gaussian_phase_map.output.nc,
    output:
        **figure_paths("quadratic_chaos", "phase_map_gaussian"),
    log:
        log_path("quadratic_chaos", "phase_map_gaussian"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "quadratic_chaos_phase_map_gaussian", "mem_mb"),
        runtime=resource_of("light", "quadratic_chaos_phase_map_gaussian", "runtime"),
    params:
        paper="quadratic_chaos",
        figure="phase_map_gaussian",
        cfg=paper_cfg("quadratic_chaos"),
    message:
        "quadratic_chaos: measured GD phase of phase retrieval on Gaussian data over the normalised step a and the sample size n"
    script:
        "../../scripts/figure.py"


rule quadratic_chaos_generalization:
    input:
        generalization=rules.quadratic_chaos_train_generalization.output.nc,
    output:
        **figure_paths("quadratic_chaos", "generalization"),
    log:
        log_path("quadratic_chaos", "generalization"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "quadratic_chaos_generalization", "mem_mb"),
        runtime=resource_of("light", "quadratic_chaos_generalization", "runtime"),
    params:
        paper="quadratic_chaos",
        figure="generalization",
        cfg=paper_cfg("quadratic_chaos"),
    message:
        "quadratic_chaos: two-layer net test error along GD, last iterate against ergodic average, one panel per phase"
    script:
        "../../scripts/figure.py"


rule quadratic_chaos_claims:
    input:
        orthogonal=rules.quadratic_chaos_train_orthogonal.output.nc,
        bifurcation=rules.quadratic_chaos_train_bifurcation.output.nc,
        gaussian_losses=rules.quadratic_chaos_train_gaussian_losses.output.nc,
        gaussian_phase_map=rules.quadratic_chaos_train_gaussian_phase_map.output.nc,
        generalization=rules.quadratic_chaos_train_generalization.output.nc,
    output:
        json=claims_path("quadratic_chaos"),
    log:
        log_path("quadratic_chaos", "claims"),
    threads: 1
    params:
        paper="quadratic_chaos",
        cfg=paper_cfg("quadratic_chaos"),
    message:
        "quadratic_chaos: measuring the paper's claims from the stored trajectories"
    script:
        "../../scripts/claims.py"


localrules:
    quadratic_chaos_loss_curves_orthogonal,
    quadratic_chaos_bifurcation,
    quadratic_chaos_loss_curves_gaussian,
    quadratic_chaos_phase_map_gaussian,
    quadratic_chaos_generalization,
    quadratic_chaos_claims,
