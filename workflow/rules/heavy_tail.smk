# heavy_tail: Gurbuzbalaban, Simsekli & Zhu, The Heavy-Tail Phenomenon in SGD (ICML 2021).
# Figure names are descriptive: the paper's numbering could not be established here.

register_figures(
    "heavy_tail",
    [
        "alpha_vs_lr",
        "alpha_vs_batch",
        "alpha_vs_dim",
        "alpha_vs_sigma",
        "tail_survival",
        "streaming_vs_finite",
        "mlp_alpha_vs_lr_over_b",
        "mlp_accuracy_vs_alpha",
    ],
)


rule heavy_tail_train_linreg:
    output:
        nc=data_path("heavy_tail", "linreg"),
    log:
        log_path("heavy_tail", "train_linreg"),
    benchmark:
        benchmark_path("heavy_tail", "train_linreg")
    threads: threads_of("train", "heavy_tail_train_linreg")
    resources:
        mem_mb=resource_of("train", "heavy_tail_train_linreg", "mem_mb"),
        runtime=resource_of("train", "heavy_tail_train_linreg", "runtime"),
        gpu=resource_of("train", "heavy_tail_train_linreg", "gpu"),
    params:
        paper="heavy_tail",
        experiment="linreg",
        cfg=experiment_cfg("heavy_tail", "linreg"),
        threads=threads_of("train", "heavy_tail_train_linreg"),
    message:
        "heavy_tail: online SGD on Gaussian linear regression over the (eta, b) grid, fresh data every step"
    script:
        "../../scripts/train.py"


rule heavy_tail_train_linreg_dim:
    output:
        nc=data_path("heavy_tail", "linreg_dim"),
    log:
        log_path("heavy_tail", "train_linreg_dim"),
    benchmark:
        benchmark_path("heavy_tail", "train_linreg_dim")
    threads: threads_of("train", "heavy_tail_train_linreg_dim")
    resources:
        mem_mb=resource_of("train", "heavy_tail_train_linreg_dim", "mem_mb"),
        runtime=resource_of("train", "heavy_tail_train_linreg_dim", "runtime"),
        gpu=resource_of("train", "heavy_tail_train_linreg_dim", "gpu"),
    params:
        paper="heavy_tail",
        experiment="linreg_dim",
        cfg=experiment_cfg("heavy_tail", "linreg_dim"),
        threads=threads_of("train", "heavy_tail_train_linreg_dim"),
    message:
        "heavy_tail: online SGD on Gaussian linear regression over the dimension d"
    script:
        "../../scripts/train.py"


rule heavy_tail_train_linreg_sigma:
    output:
        nc=data_path("heavy_tail", "linreg_sigma"),
    log:
        log_path("heavy_tail", "train_linreg_sigma"),
    benchmark:
        benchmark_path("heavy_tail", "train_linreg_sigma")
    threads: threads_of("train", "heavy_tail_train_linreg_sigma")
    resources:
        mem_mb=resource_of("train", "heavy_tail_train_linreg_sigma", "mem_mb"),
        runtime=resource_of("train", "heavy_tail_train_linreg_sigma", "runtime"),
        gpu=resource_of("train", "heavy_tail_train_linreg_sigma", "gpu"),
    params:
        paper="heavy_tail",
        experiment="linreg_sigma",
        cfg=experiment_cfg("heavy_tail", "linreg_sigma"),
        threads=threads_of("train", "heavy_tail_train_linreg_sigma"),
    message:
        "heavy_tail: online SGD on Gaussian linear regression over the data scale sigma (Hessian sigma^2 I)"
    script:
        "../../scripts/train.py"


rule heavy_tail_train_linreg_finite:
    output:
        nc=data_path("heavy_tail", "linreg_finite"),
    log:
        log_path("heavy_tail", "train_linreg_finite"),
    benchmark:
        benchmark_path("heavy_tail", "train_linreg_finite")
    threads: threads_of("train", "heavy_tail_train_linreg_finite")
    resources:
        mem_mb=resource_of("train", "heavy_tail_train_linreg_finite", "mem_mb"),
        runtime=resource_of("train", "heavy_tail_train_linreg_finite", "runtime"),
        gpu=resource_of("train", "heavy_tail_train_linreg_finite", "gpu"),
    params:
        paper="heavy_tail",
        experiment="linreg_finite",
        cfg=experiment_cfg("heavy_tail", "linreg_finite"),
        threads=threads_of("train", "heavy_tail_train_linreg_finite"),
    message:
        "heavy_tail: multi-pass SGD on one fixed Gaussian regression data set (the authors' setting)"
    script:
        "../../scripts/train.py"


rule heavy_tail_train_mlp:
    input:
        dataset_input("heavy_tail", "mlp"),
    output:
        nc=data_path("heavy_tail", "mlp"),
    log:
        log_path("heavy_tail", "train_mlp"),
    benchmark:
        benchmark_path("heavy_tail", "train_mlp")
    threads: threads_of("train", "heavy_tail_train_mlp")
    resources:
        mem_mb=resource_of("train", "heavy_tail_train_mlp", "mem_mb"),
        runtime=resource_of("train", "heavy_tail_train_mlp", "runtime"),
        gpu=resource_of("train", "heavy_tail_train_mlp", "gpu"),
    params:
        paper="heavy_tail",
        experiment="mlp",
        cfg=experiment_cfg("heavy_tail", "mlp"),
        threads=threads_of("train", "heavy_tail_train_mlp"),
    message:
        "heavy_tail: SGD on bias-free ReLU networks over the (eta, b) grid"
    script:
        "../../scripts/train.py"


rule heavy_tail_alpha_vs_lr:
    input:
        linreg=rules.heavy_tail_train_linreg.output.nc,
    output:
        **figure_paths("heavy_tail", "alpha_vs_lr"),
    log:
        log_path("heavy_tail", "alpha_vs_lr"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_alpha_vs_lr", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_alpha_vs_lr", "runtime"),
    params:
        paper="heavy_tail",
        figure="alpha_vs_lr",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: tail index against step size for several batch sizes, with the theoretical root of h(alpha) = 1"
    script:
        "../../scripts/figure.py"


rule heavy_tail_alpha_vs_batch:
    input:
        linreg=rules.heavy_tail_train_linreg.output.nc,
    output:
        **figure_paths("heavy_tail", "alpha_vs_batch"),
    log:
        log_path("heavy_tail", "alpha_vs_batch"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_alpha_vs_batch", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_alpha_vs_batch", "runtime"),
    params:
        paper="heavy_tail",
        figure="alpha_vs_batch",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: tail index against batch size for several step sizes, with the theoretical root of h(alpha) = 1"
    script:
        "../../scripts/figure.py"


rule heavy_tail_alpha_vs_dim:
    input:
        linreg_dim=rules.heavy_tail_train_linreg_dim.output.nc,
    output:
        **figure_paths("heavy_tail", "alpha_vs_dim"),
    log:
        log_path("heavy_tail", "alpha_vs_dim"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_alpha_vs_dim", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_alpha_vs_dim", "runtime"),
    params:
        paper="heavy_tail",
        figure="alpha_vs_dim",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: tail index against the dimension d, with the theoretical root of h(alpha) = 1"
    script:
        "../../scripts/figure.py"


rule heavy_tail_alpha_vs_sigma:
    input:
        linreg_sigma=rules.heavy_tail_train_linreg_sigma.output.nc,
    output:
        **figure_paths("heavy_tail", "alpha_vs_sigma"),
    log:
        log_path("heavy_tail", "alpha_vs_sigma"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_alpha_vs_sigma", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_alpha_vs_sigma", "runtime"),
    params:
        paper="heavy_tail",
        figure="alpha_vs_sigma",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: tail index against the data scale sigma (curvature), with the theoretical root of h(alpha) = 1"
    script:
        "../../scripts/figure.py"


rule heavy_tail_tail_survival:
    input:
        linreg=rules.heavy_tail_train_linreg.output.nc,
    output:
        **figure_paths("heavy_tail", "tail_survival"),
    log:
        log_path("heavy_tail", "tail_survival"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_tail_survival", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_tail_survival", "runtime"),
    params:
        paper="heavy_tail",
        figure="tail_survival",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: histogram and log-log survival function of iterate coordinates, heavy against light tails"
    script:
        "../../scripts/figure.py"


rule heavy_tail_streaming_vs_finite:
    input:
        linreg=rules.heavy_tail_train_linreg.output.nc,
        linreg_finite=rules.heavy_tail_train_linreg_finite.output.nc,
    output:
        **figure_paths("heavy_tail", "streaming_vs_finite"),
    log:
        log_path("heavy_tail", "streaming_vs_finite"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_streaming_vs_finite", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_streaming_vs_finite", "runtime"),
    params:
        paper="heavy_tail",
        figure="streaming_vs_finite",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: tail index of streaming SGD against SGD on one finite data set"
    script:
        "../../scripts/figure.py"


rule heavy_tail_mlp_alpha_vs_lr_over_b:
    input:
        mlp=rules.heavy_tail_train_mlp.output.nc,
    output:
        **figure_paths("heavy_tail", "mlp_alpha_vs_lr_over_b"),
    log:
        log_path("heavy_tail", "mlp_alpha_vs_lr_over_b"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_mlp_alpha_vs_lr_over_b", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_mlp_alpha_vs_lr_over_b", "runtime"),
    params:
        paper="heavy_tail",
        figure="mlp_alpha_vs_lr_over_b",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: per-layer weight tail index of the ReLU networks against eta/b"
    script:
        "../../scripts/figure.py"


rule heavy_tail_mlp_accuracy_vs_alpha:
    input:
        mlp=rules.heavy_tail_train_mlp.output.nc,
    output:
        **figure_paths("heavy_tail", "mlp_accuracy_vs_alpha"),
    log:
        log_path("heavy_tail", "mlp_accuracy_vs_alpha"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "heavy_tail_mlp_accuracy_vs_alpha", "mem_mb"),
        runtime=resource_of("light", "heavy_tail_mlp_accuracy_vs_alpha", "runtime"),
    params:
        paper="heavy_tail",
        figure="mlp_accuracy_vs_alpha",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: test accuracy of the ReLU networks against their weight tail index"
    script:
        "../../scripts/figure.py"


rule heavy_tail_claims:
    input:
        linreg=rules.heavy_tail_train_linreg.output.nc,
        linreg_dim=rules.heavy_tail_train_linreg_dim.output.nc,
        linreg_sigma=rules.heavy_tail_train_linreg_sigma.output.nc,
        linreg_finite=rules.heavy_tail_train_linreg_finite.output.nc,
        mlp=rules.heavy_tail_train_mlp.output.nc,
    output:
        json=claims_path("heavy_tail"),
    log:
        log_path("heavy_tail", "claims"),
    threads: 1
    params:
        paper="heavy_tail",
        cfg=paper_cfg("heavy_tail"),
    message:
        "heavy_tail: measuring the paper's claims from the stored trajectories"
    script:
        "../../scripts/claims.py"


localrules:
    heavy_tail_alpha_vs_lr,
    heavy_tail_alpha_vs_batch,
    heavy_tail_alpha_vs_dim,
    heavy_tail_alpha_vs_sigma,
    heavy_tail_tail_survival,
    heavy_tail_streaming_vs_finite,
    heavy_tail_mlp_alpha_vs_lr_over_b,
    heavy_tail_mlp_accuracy_vs_alpha,
    heavy_tail_claims,
