# The rules of every paper: one training, one figure and one claims rule, with wildcards. What a
# job reads, its config, message and resources come from the paper's manifest through `plan`
# (sgdrepro.core.dag); nothing here names a paper.


rule train:
    input:
        plan.dataset_check,
    output:
        nc=f"{RESULTS}/{{paper}}/data/{{experiment}}.nc",
    log:
        f"{RESULTS}/{{paper}}/logs/train_{{experiment}}.log",
    benchmark:
        f"{RESULTS}/{{paper}}/benchmarks/train_{{experiment}}.tsv"
    conda:
        "../../envs/sgdrepro.yaml"
    threads: plan.train_resource("threads")
    resources:
        mem_mb=plan.train_resource("mem_mb"),
        runtime=plan.train_resource("runtime"),
        gpu=plan.train_resource("gpu"),
    params:
        paper="{paper}",
        experiment="{experiment}",
        cfg=plan.experiment_cfg,
        threads=plan.train_resource("threads"),
        message=plan.train_message,
    message:
        "{params.message}"
    script:
        "../../scripts/train.py"


rule figure:
    input:
        unpack(plan.figure_inputs),
    output:
        pdf=f"{RESULTS}/{{paper}}/figures/{{figure}}.pdf",
        png=report(f"{RESULTS}/{{paper}}/figures/{{figure}}.png", caption="../report/figure.rst", category="{paper}"),
    log:
        f"{RESULTS}/{{paper}}/logs/{{figure}}.log",
    conda:
        "../../envs/sgdrepro.yaml"
    threads: 1
    resources:
        mem_mb=plan.light_resource("mem_mb"),
        runtime=plan.light_resource("runtime"),
    params:
        paper="{paper}",
        figure="{figure}",
        cfg=plan.figure_cfg,
        message=plan.figure_message,
        caption=FigureCaption.of,
    message:
        "{params.message}"
    script:
        "../../scripts/figure.py"


rule claims:
    input:
        unpack(plan.claims_inputs),
    output:
        json=f"{RESULTS}/{{paper}}/claims.json",
    log:
        f"{RESULTS}/{{paper}}/logs/claims.log",
    conda:
        "../../envs/sgdrepro.yaml"
    threads: 1
    params:
        paper="{paper}",
        cfg=plan.claims_cfg,
    message:
        "{wildcards.paper}: measuring the paper's claims from the stored trajectories"
    script:
        "../../scripts/claims.py"
