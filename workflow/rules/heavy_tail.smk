# heavy_tail: Gurbuzbalaban, Simsekli & Zhu, The Heavy-Tail Phenomenon in SGD (ICML 2021).
# Figure names are descriptive: the paper's numbering could not be established here.
HEAVY_TAIL_FIGURES = {
    "alpha_vs_lr": (["linreg"], "tail index against step size for several batch sizes, with theory"),
    "alpha_vs_batch": (["linreg"], "tail index against batch size for several step sizes"),
    "alpha_vs_dim": (["linreg_dim"], "tail index against dimension"),
    "alpha_vs_sigma": (["linreg_sigma"], "tail index against data scale sigma (curvature)"),
    "tail_survival": (["linreg"], "histogram and log-log survival of iterate coordinates, heavy vs light"),
    "streaming_vs_finite": (["linreg", "linreg_finite"], "streaming SGD against finite-data SGD"),
    "mlp_alpha_vs_lr_over_b": (["mlp"], "network weight tail index per layer against eta/b"),
    "mlp_accuracy_vs_alpha": (["mlp"], "network test accuracy against weight tail index"),
}
HEAVY_TAIL_EXPERIMENTS = {
    "linreg": "online SGD on Gaussian linear regression over the (eta, b) grid",
    "linreg_dim": "online SGD on Gaussian linear regression over dimensions",
    "linreg_sigma": "online SGD on Gaussian linear regression over data scales",
    "linreg_finite": "multi-pass SGD on one fixed data set (the authors' setting)",
    "mlp": "bias-free ReLU networks over the (eta, b) grid",
}

register_figures("heavy_tail", list(HEAVY_TAIL_FIGURES))


rule heavy_tail_train:
    output:
        nc=data_path("heavy_tail", "{experiment}"),
    wildcard_constraints:
        experiment="|".join(HEAVY_TAIL_EXPERIMENTS),
    params:
        paper="heavy_tail",
        experiment=lambda wildcards: wildcards.experiment,
        cfg=lambda wildcards: experiment_cfg("heavy_tail", wildcards.experiment),
        threads=lambda wildcards: threads_of("train", f"heavy_tail_train_{wildcards.experiment}"),
    log:
        log_path("heavy_tail", "train_{experiment}"),
    message:
        "heavy_tail: training {wildcards.experiment}"
    threads: lambda wildcards: threads_of("train", f"heavy_tail_train_{wildcards.experiment}")
    resources:
        mem_mb=lambda wildcards: resource_of("train", f"heavy_tail_train_{wildcards.experiment}", "mem_mb"),
        runtime=lambda wildcards: resource_of("train", f"heavy_tail_train_{wildcards.experiment}", "runtime"),
        gpu=lambda wildcards: resource_of("train", f"heavy_tail_train_{wildcards.experiment}", "gpu"),
    script:
        "../../scripts/train.py"


def heavy_tail_figure_inputs(wildcards):
    return {name: data_path("heavy_tail", name) for name in HEAVY_TAIL_FIGURES[wildcards.figure][0]}


rule heavy_tail_figure:
    input:
        unpack(heavy_tail_figure_inputs),
    output:
        pdf=f"{RESULTS}/heavy_tail/figures/{{figure}}.pdf",
        png=f"{RESULTS}/heavy_tail/figures/{{figure}}.png",
    wildcard_constraints:
        figure="|".join(HEAVY_TAIL_FIGURES),
    params:
        paper="heavy_tail",
        figure=lambda wildcards: wildcards.figure,
        cfg=paper_cfg("heavy_tail"),
    log:
        log_path("heavy_tail", "figure_{figure}"),
    message:
        "heavy_tail: figure {wildcards.figure}"
    threads: 1
    resources:
        mem_mb=lambda wildcards: resource_of("light", f"heavy_tail_{wildcards.figure}", "mem_mb"),
        runtime=lambda wildcards: resource_of("light", f"heavy_tail_{wildcards.figure}", "runtime"),
    script:
        "../../scripts/figure.py"


rule heavy_tail_claims:
    input:
        **{name: data_path("heavy_tail", name) for name in HEAVY_TAIL_EXPERIMENTS},
    output:
        json=claims_path("heavy_tail"),
    params:
        paper="heavy_tail",
        cfg=paper_cfg("heavy_tail"),
    log:
        log_path("heavy_tail", "claims"),
    message:
        "heavy_tail: measuring the paper's claims from the stored trajectories"
    threads: 1
    script:
        "../../scripts/claims.py"


localrules:
    heavy_tail_figure,
    heavy_tail_claims,
