# quadratic_chaos: GD on quadratic regression, from stability to chaos (arXiv 2310.01687).
# Figures are named for what they show (the paper's numbering could not be established).
QUADRATIC_CHAOS_EXPERIMENTS = {
    "orthogonal": "phase retrieval and two-layer net on orthonormal data, one step per phase",
    "bifurcation": "phase retrieval on orthonormal data over a fine step-size grid (bifurcation diagram)",
    "gaussian_losses": "phase retrieval and two-layer net on Gaussian data, one step per phase",
    "gaussian_phase_map": "phase retrieval on Gaussian data over step size and sample size",
    "generalization": "two-layer net on Gaussian data, test error of the last iterate and the ergodic average",
}
QUADRATIC_CHAOS_FIGURES = {
    "loss_curves_orthogonal": ["orthogonal"],
    "bifurcation": ["bifurcation"],
    "loss_curves_gaussian": ["gaussian_losses"],
    "phase_map_gaussian": ["gaussian_phase_map"],
    "generalization": ["generalization"],
}

register_figures("quadratic_chaos", list(QUADRATIC_CHAOS_FIGURES))


rule quadratic_chaos_train:
    output:
        nc=data_path("quadratic_chaos", "{experiment}"),
    wildcard_constraints:
        experiment="|".join(QUADRATIC_CHAOS_EXPERIMENTS),
    params:
        paper="quadratic_chaos",
        experiment=lambda wc: wc.experiment,
        cfg=lambda wc: experiment_cfg("quadratic_chaos", wc.experiment),
        threads=threads_of("train", "quadratic_chaos_train"),
    log:
        log_path("quadratic_chaos", "train_{experiment}"),
    message:
        "quadratic_chaos: full-batch GD, experiment {wildcards.experiment}"
    threads: threads_of("train", "quadratic_chaos_train")
    resources:
        mem_mb=resource_of("train", "quadratic_chaos_train", "mem_mb"),
        runtime=resource_of("train", "quadratic_chaos_train", "runtime"),
        gpu=resource_of("train", "quadratic_chaos_train", "gpu"),
    script:
        "../../scripts/train.py"


rule quadratic_chaos_figure:
    input:
        unpack(lambda wc: {e: data_path("quadratic_chaos", e) for e in QUADRATIC_CHAOS_FIGURES[wc.figure]}),
    output:
        pdf="results/quadratic_chaos/figures/{figure}.pdf",
        png="results/quadratic_chaos/figures/{figure}.png",
    wildcard_constraints:
        figure="|".join(QUADRATIC_CHAOS_FIGURES),
    params:
        paper="quadratic_chaos",
        figure=lambda wc: wc.figure,
        cfg=paper_cfg("quadratic_chaos"),
    log:
        log_path("quadratic_chaos", "{figure}"),
    message:
        "quadratic_chaos: figure {wildcards.figure}"
    threads: 1
    resources:
        mem_mb=resource_of("light", "quadratic_chaos_figure", "mem_mb"),
        runtime=resource_of("light", "quadratic_chaos_figure", "runtime"),
    script:
        "../../scripts/figure.py"


rule quadratic_chaos_claims:
    input:
        **{e: data_path("quadratic_chaos", e) for e in QUADRATIC_CHAOS_EXPERIMENTS},
    output:
        json=claims_path("quadratic_chaos"),
    params:
        paper="quadratic_chaos",
        cfg=paper_cfg("quadratic_chaos"),
    log:
        log_path("quadratic_chaos", "claims"),
    message:
        "quadratic_chaos: measuring the paper's claims from the stored trajectories"
    threads: 1
    script:
        "../../scripts/claims.py"


localrules:
    quadratic_chaos_figure,
    quadratic_chaos_claims,
