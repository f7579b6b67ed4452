# large_step_sparse: SGD with large step sizes learns sparse features (Andriushchenko et al., ICML 2023).
# One training rule per experiment, one rule per figure, one claims rule.

register_figures(
    "large_step_sparse",
    [
        "diagonal_stabilization",
        "diagonal_decay",
        "diagonal_gd_vs_sgd",
        "relu_teacher_student",
        "relu_1d",
        "relu_three_layer",
        "deep_sparsity",
        "deep_sota_sparsity",
        "deep_densenet_sparsity",
    ],
)


rule large_step_sparse_train_diagonal_sgd:
    output:
        nc=data_path("large_step_sparse", "diagonal_sgd"),
    log:
        log_path("large_step_sparse", "train_diagonal_sgd"),
    benchmark:
        benchmark_path("large_step_sparse", "train_diagonal_sgd")
    threads: threads_of("train", "large_step_sparse_train_diagonal_sgd")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_diagonal_sgd", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_diagonal_sgd", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_diagonal_sgd", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="diagonal_sgd",
        cfg=experiment_cfg("large_step_sparse", "diagonal_sgd"),
        threads=threads_of("train", "large_step_sparse_train_diagonal_sgd"),
    message:
        "large_step_sparse: diagonal linear nets, SGD (batch 1) over the (step size, decay time, seed) grid"
    script:
        "../../scripts/train.py"


rule large_step_sparse_train_diagonal_gd:
    output:
        nc=data_path("large_step_sparse", "diagonal_gd"),
    log:
        log_path("large_step_sparse", "train_diagonal_gd"),
    benchmark:
        benchmark_path("large_step_sparse", "train_diagonal_gd")
    threads: threads_of("train", "large_step_sparse_train_diagonal_gd")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_diagonal_gd", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_diagonal_gd", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_diagonal_gd", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="diagonal_gd",
        cfg=experiment_cfg("large_step_sparse", "diagonal_gd"),
        threads=threads_of("train", "large_step_sparse_train_diagonal_gd"),
    message:
        "large_step_sparse: diagonal linear nets, full-batch GD over the (step size, decay time, seed) grid"
    script:
        "../../scripts/train.py"


rule large_step_sparse_train_relu_teacher_student:
    output:
        nc=data_path("large_step_sparse", "relu_teacher_student"),
    log:
        log_path("large_step_sparse", "train_relu_teacher_student"),
    benchmark:
        benchmark_path("large_step_sparse", "train_relu_teacher_student")
    threads: threads_of("train", "large_step_sparse_train_relu_teacher_student")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_relu_teacher_student", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_relu_teacher_student", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_relu_teacher_student", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="relu_teacher_student",
        cfg=experiment_cfg("large_step_sparse", "relu_teacher_student"),
        threads=threads_of("train", "large_step_sparse_train_relu_teacher_student"),
    message:
        "large_step_sparse: two-layer ReLU student of a ReLU teacher, SGD with small vs large steps and decays"
    script:
        "../../scripts/train.py"


rule large_step_sparse_train_relu_1d:
    output:
        nc=data_path("large_step_sparse", "relu_1d"),
    log:
        log_path("large_step_sparse", "train_relu_1d"),
    benchmark:
        benchmark_path("large_step_sparse", "train_relu_1d")
    threads: threads_of("train", "large_step_sparse_train_relu_1d")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_relu_1d", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_relu_1d", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_relu_1d", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="relu_1d",
        cfg=experiment_cfg("large_step_sparse", "relu_1d"),
        threads=threads_of("train", "large_step_sparse_train_relu_1d"),
    message:
        "large_step_sparse: two-layer ReLU net on the 1-D regression problem, short vs long large-step phase"
    script:
        "../../scripts/train.py"


rule large_step_sparse_train_relu_three_layer:
    output:
        nc=data_path("large_step_sparse", "relu_three_layer"),
    log:
        log_path("large_step_sparse", "train_relu_three_layer"),
    benchmark:
        benchmark_path("large_step_sparse", "train_relu_three_layer")
    threads: threads_of("train", "large_step_sparse_train_relu_three_layer")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_relu_three_layer", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_relu_three_layer", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_relu_three_layer", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="relu_three_layer",
        cfg=experiment_cfg("large_step_sparse", "relu_three_layer"),
        threads=threads_of("train", "large_step_sparse_train_relu_three_layer"),
    message:
        "large_step_sparse: three-layer ReLU student of a ReLU teacher, small step vs warmed-up large steps and decays"
    script:
        "../../scripts/train.py"


rule large_step_sparse_train_deep:
    input:
        dataset_input("large_step_sparse", "deep"),
    output:
        nc=data_path("large_step_sparse", "deep"),
    log:
        log_path("large_step_sparse", "train_deep"),
    benchmark:
        benchmark_path("large_step_sparse", "train_deep")
    threads: threads_of("train", "large_step_sparse_train_deep")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_deep", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_deep", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_deep", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="deep",
        cfg=experiment_cfg("large_step_sparse", "deep"),
        threads=threads_of("train", "large_step_sparse_train_deep"),
    message:
        "large_step_sparse: ResNets with a large-step phase of swept length (feature sparsity and test error per epoch)"
    script:
        "../../scripts/train.py"


rule large_step_sparse_train_deep_sota:
    input:
        dataset_input("large_step_sparse", "deep_sota"),
    output:
        nc=data_path("large_step_sparse", "deep_sota"),
    log:
        log_path("large_step_sparse", "train_deep_sota"),
    benchmark:
        benchmark_path("large_step_sparse", "train_deep_sota")
    threads: threads_of("train", "large_step_sparse_train_deep_sota")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_deep_sota", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_deep_sota", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_deep_sota", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="deep_sota",
        cfg=experiment_cfg("large_step_sparse", "deep_sota"),
        threads=threads_of("train", "large_step_sparse_train_deep_sota"),
    message:
        "large_step_sparse: ResNets in the state-of-the-art setting (momentum, weight decay, augmentation), large-step phase swept"
    script:
        "../../scripts/train.py"


rule large_step_sparse_train_deep_densenet:
    input:
        dataset_input("large_step_sparse", "deep_densenet"),
    output:
        nc=data_path("large_step_sparse", "deep_densenet"),
    log:
        log_path("large_step_sparse", "train_deep_densenet"),
    benchmark:
        benchmark_path("large_step_sparse", "train_deep_densenet")
    threads: threads_of("train", "large_step_sparse_train_deep_densenet")
    resources:
        mem_mb=resource_of("train", "large_step_sparse_train_deep_densenet", "mem_mb"),
        runtime=resource_of("train", "large_step_sparse_train_deep_densenet", "runtime"),
        gpu=resource_of("train", "large_step_sparse_train_deep_densenet", "gpu"),
    params:
        paper="large_step_sparse",
        experiment="deep_densenet",
        cfg=experiment_cfg("large_step_sparse", "deep_densenet"),
        threads=threads_of("train", "large_step_sparse_train_deep_densenet"),
    message:
        "large_step_sparse: DenseNets with a large-step phase of swept length (feature sparsity per dense block, test error)"
    script:
        "../../scripts/train.py"


rule large_step_sparse_diagonal_stabilization:
    input:
        diagonal_sgd=rules.large_step_sparse_train_diagonal_sgd.output.nc,
    output:
        **figure_paths("large_step_sparse", "diagonal_stabilization"),
    log:
        log_path("large_step_sparse", "diagonal_stabilization"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_diagonal_stabilization", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_diagonal_stabilization", "runtime"),
    params:
        paper="large_step_sparse",
        figure="diagonal_stabilization",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: diagonal nets: loss stabilization of constant-step SGD (train/test loss, l1 norm)"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_diagonal_decay:
    input:
        diagonal_sgd=rules.large_step_sparse_train_diagonal_sgd.output.nc,
    output:
        **figure_paths("large_step_sparse", "diagonal_decay"),
    log:
        log_path("large_step_sparse", "diagonal_decay"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_diagonal_decay", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_diagonal_decay", "runtime"),
    params:
        paper="large_step_sparse",
        figure="diagonal_decay",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: diagonal nets: SGD with the step decayed at different times (losses, non-zeros)"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_diagonal_gd_vs_sgd:
    input:
        diagonal_sgd=rules.large_step_sparse_train_diagonal_sgd.output.nc,
        diagonal_gd=rules.large_step_sparse_train_diagonal_gd.output.nc,
    output:
        **figure_paths("large_step_sparse", "diagonal_gd_vs_sgd"),
    log:
        log_path("large_step_sparse", "diagonal_gd_vs_sgd"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_diagonal_gd_vs_sgd", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_diagonal_gd_vs_sgd", "runtime"),
    params:
        paper="large_step_sparse",
        figure="diagonal_gd_vs_sgd",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: diagonal nets: GD vs SGD after the large-step phase"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_relu_teacher_student:
    input:
        relu_teacher_student=rules.large_step_sparse_train_relu_teacher_student.output.nc,
    output:
        **figure_paths("large_step_sparse", "relu_teacher_student"),
    log:
        log_path("large_step_sparse", "relu_teacher_student"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_relu_teacher_student", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_relu_teacher_student", "runtime"),
    params:
        paper="large_step_sparse",
        figure="relu_teacher_student",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: two-layer ReLU teacher-student: train loss and feature sparsity"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_relu_1d:
    input:
        relu_1d=rules.large_step_sparse_train_relu_1d.output.nc,
    output:
        **figure_paths("large_step_sparse", "relu_1d"),
    log:
        log_path("large_step_sparse", "relu_1d"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_relu_1d", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_relu_1d", "runtime"),
    params:
        paper="large_step_sparse",
        figure="relu_1d",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: two-layer ReLU 1-D regression: train loss, feature sparsity, learned functions"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_relu_three_layer:
    input:
        relu_three_layer=rules.large_step_sparse_train_relu_three_layer.output.nc,
    output:
        **figure_paths("large_step_sparse", "relu_three_layer"),
    log:
        log_path("large_step_sparse", "relu_three_layer"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_relu_three_layer", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_relu_three_layer", "runtime"),
    params:
        paper="large_step_sparse",
        figure="relu_three_layer",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: three-layer ReLU teacher-student: losses, gradient rank and per-layer feature sparsity"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_deep_sparsity:
    input:
        deep=rules.large_step_sparse_train_deep.output.nc,
    output:
        **figure_paths("large_step_sparse", "deep_sparsity"),
    log:
        log_path("large_step_sparse", "deep_sparsity"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_deep_sparsity", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_deep_sparsity", "runtime"),
    params:
        paper="large_step_sparse",
        figure="deep_sparsity",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: deep nets: feature sparsity and test error vs the length of the large-step phase"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_deep_sota_sparsity:
    input:
        deep_sota=rules.large_step_sparse_train_deep_sota.output.nc,
    output:
        **figure_paths("large_step_sparse", "deep_sota_sparsity"),
    log:
        log_path("large_step_sparse", "deep_sota_sparsity"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_deep_sota_sparsity", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_deep_sota_sparsity", "runtime"),
    params:
        paper="large_step_sparse",
        figure="deep_sota_sparsity",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: state-of-the-art setting: feature sparsity and test error vs the large-step phase"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_deep_densenet_sparsity:
    input:
        deep_densenet=rules.large_step_sparse_train_deep_densenet.output.nc,
    output:
        **figure_paths("large_step_sparse", "deep_densenet_sparsity"),
    log:
        log_path("large_step_sparse", "deep_densenet_sparsity"),
    threads: 1
    resources:
        mem_mb=resource_of("light", "large_step_sparse_deep_densenet_sparsity", "mem_mb"),
        runtime=resource_of("light", "large_step_sparse_deep_densenet_sparsity", "runtime"),
    params:
        paper="large_step_sparse",
        figure="deep_densenet_sparsity",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: DenseNets: feature sparsity per dense block and test error vs the large-step phase"
    script:
        "../../scripts/figure.py"


rule large_step_sparse_claims:
    input:
        diagonal_sgd=rules.large_step_sparse_train_diagonal_sgd.output.nc,
        diagonal_gd=rules.large_step_sparse_train_diagonal_gd.output.nc,
        relu_teacher_student=rules.large_step_sparse_train_relu_teacher_student.output.nc,
        relu_1d=rules.large_step_sparse_train_relu_1d.output.nc,
        relu_three_layer=rules.large_step_sparse_train_relu_three_layer.output.nc,
        deep=rules.large_step_sparse_train_deep.output.nc,
        deep_sota=rules.large_step_sparse_train_deep_sota.output.nc,
        deep_densenet=rules.large_step_sparse_train_deep_densenet.output.nc,
    output:
        json=claims_path("large_step_sparse"),
    log:
        log_path("large_step_sparse", "claims"),
    threads: 1
    params:
        paper="large_step_sparse",
        cfg=paper_cfg("large_step_sparse"),
    message:
        "large_step_sparse: measuring the paper's claims from the stored trajectories"
    script:
        "../../scripts/claims.py"


localrules:
    large_step_sparse_diagonal_stabilization,
    large_step_sparse_diagonal_decay,
    large_step_sparse_diagonal_gd_vs_sgd,
    large_step_sparse_relu_teacher_student,
    large_step_sparse_relu_1d,
    large_step_sparse_relu_three_layer,
    large_step_sparse_deep_sparsity,
    large_step_sparse_deep_sota_sparsity,
    large_step_sparse_deep_densenet_sparsity,
    large_step_sparse_claims,
