# dimensionless_odes: SGD of erf committee machines against the dimensionless ODEs for Q and M.
# Figure names are descriptive (the paper's figure numbers could not be checked): see captions.

register_figures("dimensionless_odes", ["risk_collapse", "risk_width_collapse", "phase_diagram", "noise_floor"])

DIMENSIONLESS_ODES_EXPERIMENTS = {
    "collapse": "SGD at growing d against the ODE in dimensionless time",
    "width": "SGD of several widths at fixed gamma/p in dimensionless time",
    "floor": "late-time noise floor against the learning rate and the width",
    "phase": "ODE of every (kappa, delta) cell at its own p and gamma over d, with SGD spot checks",
}


rule dimensionless_odes_train_collapse:
    output:
        nc=data_path("dimensionless_odes", "collapse"),
    params:
        paper="dimensionless_odes",
        experiment="collapse",
        cfg=experiment_cfg("dimensionless_odes", "collapse"),
        threads=threads_of("train", "dimensionless_odes_train_collapse"),
    log:
        log_path("dimensionless_odes", "train_collapse"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_collapse"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["collapse"]
    threads: threads_of("train", "dimensionless_odes_train_collapse")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_collapse", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_collapse", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_collapse", "gpu"),
    script:
        "../../scripts/train.py"


rule dimensionless_odes_train_width:
    output:
        nc=data_path("dimensionless_odes", "width"),
    params:
        paper="dimensionless_odes",
        experiment="width",
        cfg=experiment_cfg("dimensionless_odes", "width"),
        threads=threads_of("train", "dimensionless_odes_train_width"),
    log:
        log_path("dimensionless_odes", "train_width"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_width"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["width"]
    threads: threads_of("train", "dimensionless_odes_train_width")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_width", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_width", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_width", "gpu"),
    script:
        "../../scripts/train.py"


rule dimensionless_odes_train_floor:
    output:
        nc=data_path("dimensionless_odes", "floor"),
    params:
        paper="dimensionless_odes",
        experiment="floor",
        cfg=experiment_cfg("dimensionless_odes", "floor"),
        threads=threads_of("train", "dimensionless_odes_train_floor"),
    log:
        log_path("dimensionless_odes", "train_floor"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_floor"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["floor"]
    threads: threads_of("train", "dimensionless_odes_train_floor")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_floor", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_floor", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_floor", "gpu"),
    script:
        "../../scripts/train.py"


rule dimensionless_odes_train_phase:
    output:
        nc=data_path("dimensionless_odes", "phase"),
    params:
        paper="dimensionless_odes",
        experiment="phase",
        cfg=experiment_cfg("dimensionless_odes", "phase"),
        threads=threads_of("train", "dimensionless_odes_train_phase"),
    log:
        log_path("dimensionless_odes", "train_phase"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_phase"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["phase"]
    threads: threads_of("train", "dimensionless_odes_train_phase")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_phase", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_phase", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_phase", "gpu"),
    script:
        "../../scripts/train.py"


rule dimensionless_odes_risk_collapse:
    input:
        collapse=rules.dimensionless_odes_train_collapse.output.nc,
    output:
        **figure_paths("dimensionless_odes", "risk_collapse"),
    params:
        paper="dimensionless_odes",
        figure="risk_collapse",
        cfg=paper_cfg("dimensionless_odes"),
    log:
        log_path("dimensionless_odes", "risk_collapse"),
    message:
        "dimensionless_odes: risk against t = steps gamma/(p d), SGD at growing d on the ODE"
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_risk_collapse", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_risk_collapse", "runtime"),
    script:
        "../../scripts/figure.py"


rule dimensionless_odes_risk_width_collapse:
    input:
        width=rules.dimensionless_odes_train_width.output.nc,
    output:
        **figure_paths("dimensionless_odes", "risk_width_collapse"),
    params:
        paper="dimensionless_odes",
        figure="risk_width_collapse",
        cfg=paper_cfg("dimensionless_odes"),
    log:
        log_path("dimensionless_odes", "risk_width_collapse"),
    message:
        "dimensionless_odes: risk against t = steps gamma/(p d) for several widths at fixed gamma/p"
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_risk_width_collapse", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_risk_width_collapse", "runtime"),
    script:
        "../../scripts/figure.py"


rule dimensionless_odes_phase_diagram:
    input:
        phase=rules.dimensionless_odes_train_phase.output.nc,
    output:
        **figure_paths("dimensionless_odes", "phase_diagram"),
    params:
        paper="dimensionless_odes",
        figure="phase_diagram",
        cfg=paper_cfg("dimensionless_odes"),
    log:
        log_path("dimensionless_odes", "phase_diagram"),
    message:
        "dimensionless_odes: (kappa, delta) phase diagram from every cell's ODE, SGD spot checks, example curves"
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_phase_diagram", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_phase_diagram", "runtime"),
    script:
        "../../scripts/figure.py"


rule dimensionless_odes_noise_floor:
    input:
        floor=rules.dimensionless_odes_train_floor.output.nc,
    output:
        **figure_paths("dimensionless_odes", "noise_floor"),
    params:
        paper="dimensionless_odes",
        figure="noise_floor",
        cfg=paper_cfg("dimensionless_odes"),
    log:
        log_path("dimensionless_odes", "noise_floor"),
    message:
        "dimensionless_odes: late-time noise floor against gamma and gamma/p, ODE and SGD"
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_noise_floor", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_noise_floor", "runtime"),
    script:
        "../../scripts/figure.py"


rule dimensionless_odes_claims:
    input:
        collapse=rules.dimensionless_odes_train_collapse.output.nc,
        width=rules.dimensionless_odes_train_width.output.nc,
        floor=rules.dimensionless_odes_train_floor.output.nc,
        phase=rules.dimensionless_odes_train_phase.output.nc,
    output:
        json=claims_path("dimensionless_odes"),
    params:
        paper="dimensionless_odes",
        cfg=paper_cfg("dimensionless_odes"),
    log:
        log_path("dimensionless_odes", "claims"),
    message:
        "dimensionless_odes: measuring the paper's claims from the stored trajectories"
    threads: 1
    script:
        "../../scripts/claims.py"


localrules:
    dimensionless_odes_risk_collapse,
    dimensionless_odes_risk_width_collapse,
    dimensionless_odes_phase_diagram,
    dimensionless_odes_noise_floor,
    dimensionless_odes_claims,
