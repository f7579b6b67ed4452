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
    log:
        log_path("dimensionless_odes", "train_collapse"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_collapse")
    threads: threads_of("train", "dimensionless_odes_train_collapse")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_collapse", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_collapse", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_collapse", "gpu"),
    params:
        paper="dimensionless_odes",
        experiment="collapse",
        cfg=experiment_cfg("dimensionless_odes", "collapse"),
        threads=threads_of("train", "dimensionless_odes_train_collapse"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["collapse"]
    script:
        "../../scripts/train.py"


rule dimensionless_odes_train_width:
    output:
        nc=data_path("dimensionless_odes", "width"),
    log:
        log_path("dimensionless_odes", "train_width"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_width")
    threads: threads_of("train", "dimensionless_odes_train_width")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_width", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_width", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_width", "gpu"),
    params:
        paper="dimensionless_odes",
        experiment="width",
        cfg=experiment_cfg("dimensionless_odes", "width"),
        threads=threads_of("train", "dimensionless_odes_train_width"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["width"]
    script:
        "../../scripts/train.py"


rule dimensionless_odes_train_floor:
    output:
        nc=data_path("dimensionless_odes", "floor"),
    log:
        log_path("dimensionless_odes", "train_floor"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_floor")
    threads: threads_of("train", "dimensionless_odes_train_floor")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_floor", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_floor", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_floor", "gpu"),
    params:
        paper="dimensionless_odes",
        experiment="floor",
        cfg=experiment_cfg("dimensionless_odes", "floor"),
        threads=threads_of("train", "dimensionless_odes_train_floor"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["floor"]
    script:
        "../../scripts/train.py"


rule dimensionless_odes_train_phase:
    output:
        nc=data_path("dimensionless_odes", "phase"),
    log:
        log_path("dimensionless_odes", "train_phase"),
    benchmark:
        benchmark_path("dimensionless_odes", "train_phase")
    threads: threads_of("train", "dimensionless_odes_train_phase")
    resources:
        mem_mb=resource_of("train", "dimensionless_odes_train_phase", "mem_mb"),
        runtime=resource_of("train", "dimensionless_odes_train_phase", "runtime"),
        gpu=resource_of("train", "dimensionless_odes_train_phase", "gpu"),
    params:
        paper="dimensionless_odes",
        experiment="phase",
        cfg=experiment_cfg("dimensionless_odes", "phase"),
        threads=threads_of("train", "dimensionless_odes_train_phase"),
    message:
        "dimensionless_odes: " + DIMENSIONLESS_ODES_EXPERIMENTS["phase"]
    script:
        "../../scripts/train.py"


rule dimensionless_odes_risk_collapse:
    input:
        collapse=rules.dimensionless_odes_train_collapse.output.nc,
    output:
        **figure_paths("dimensionless_odes", "risk_collapse"),
    log:
        log_path("dimensionless_odes", "risk_collapse"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_risk_collapse", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_risk_collapse", "runtime"),
    params:
        paper="dimensionless_odes",
        figure="risk_collapse",
        cfg=paper_cfg("dimensionless_odes"),
    message:
        "dimensionless_odes: risk against t = steps gamma/(p d), SGD at growing d on the ODE"
    script:
        "../../scripts/figure.py"


rule dimensionless_odes_risk_width_collapse:
    input:
        width=rules.dimensionless_odes_train_width.output.nc,
    output:
        **figure_paths("dimensionless_odes", "risk_width_collapse"),
    log:
        log_path("dimensionless_odes", "risk_width_collapse"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_risk_width_collapse", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_risk_width_collapse", "runtime"),
    params:
        paper="dimensionless_odes",
        figure="risk_width_collapse",
        cfg=paper_cfg("dimensionless_odes"),
    message:
        "dimensionless_odes: risk against t = steps gamma/(p d) for several widths at fixed gamma/p"
    script:
        "../../scripts/figure.py"


rule dimensionless_odes_phase_diagram:
    input:
        phase=rules.dimensionless_odes_train_phase.output.nc,
    output:
        **figure_paths("dimensionless_odes", "phase_diagram"),
    log:
        log_path("dimensionless_odes", "phase_diagram"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_phase_diagram", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_phase_diagram", "runtime"),
    params:
        paper="dimensionless_odes",
        figure="phase_diagram",
        cfg=paper_cfg("dimensionless_odes"),
    message:
        "dimensionless_odes: (kappa, delta) phase diagram from every cell's ODE, SGD spot checks, example curves"
    script:
        "../../scripts/figure.py"


rule dimensionless_odes_noise_floor:
    input:
        floor=rules.dimensionless_odes_train_floor.output.nc,
    output:
        **figure_paths("dimensionless_odes", "noise_floor"),
    log:
        log_path("dimensionless_odes", "noise_floor"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "dimensionless_odes_noise_floor", "mem_mb"),
        runtime=resource_of("light", "dimensionless_odes_noise_floor", "runtime"),
    params:
        paper="dimensionless_odes",
        figure="noise_floor",
        cfg=paper_cfg("dimensionless_odes"),
    message:
        "dimensionless_odes: late-time noise floor against gamma and gamma/p, ODE and SGD"
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
    log:
        log_path("dimensionless_odes", "claims"),
    threads: 1
    params:
        paper="dimensionless_odes",
        cfg=paper_cfg("dimensionless_odes"),
    message:
        "dimensionless_odes: measuring the paper's claims from the stored trajectories"
    script:
        "../../scripts/claims.py"


localrules:
    dimensionless_odes_risk_collapse,
    dimensionless_odes_risk_width_collapse,
    dimensionless_odes_phase_diagram,
    dimensionless_odes_noise_floor,
    dimensionless_odes_claims,
