"""The large_step_sparse paper as the workflow, the report and the tests see it (:mod:`sgdrepro.core.manifest`)."""

from sgdrepro.core.manifest import Experiment, Figure, Manifest

MANIFEST = Manifest(
    key="large_step_sparse",
    title="Andriushchenko, Varre, Pillaud-Vivien, Flammarion: SGD with Large Step Sizes Learns Sparse Features (ICML 2023)",
    position=5,
    experiments=(
        Experiment("diagonal_sgd", "diagonal linear nets, SGD (batch 1) over the (step size, decay time, seed) grid"),
        Experiment("diagonal_gd", "diagonal linear nets, full-batch GD over the (step size, decay time, seed) grid"),
        Experiment("relu_teacher_student", "two-layer ReLU student of a ReLU teacher, SGD with small vs large steps and decays"),
        Experiment("relu_1d", "two-layer ReLU net on the 1-D regression problem, short vs long large-step phase"),
        Experiment("relu_three_layer", "three-layer ReLU student of a ReLU teacher, small step vs warmed-up large steps and decays"),
        Experiment("deep", "ResNets with a large-step phase of swept length (feature sparsity and test error per epoch)"),
        Experiment("deep_sota", "ResNets in the state-of-the-art setting (momentum, weight decay, augmentation), large-step phase swept"),
        Experiment("deep_densenet", "DenseNets with a large-step phase of swept length (feature sparsity per dense block, test error)"),
    ),
    figures=(
        Figure(
            "diagonal_stabilization",
            reads=("diagonal_sgd",),
            config=(),
            message="diagonal nets: loss stabilization of constant-step SGD (train/test loss, l1 norm)",
        ),
        Figure(
            "diagonal_decay",
            reads=("diagonal_sgd",),
            config=(),
            message="diagonal nets: SGD with the step decayed at different times (losses, non-zeros)",
        ),
        Figure("diagonal_gd_vs_sgd", reads=("diagonal_sgd", "diagonal_gd"), config=(), message="diagonal nets: GD vs SGD after the large-step phase"),
        Figure(
            "relu_teacher_student",
            reads=("relu_teacher_student",),
            config=("relu_teacher_student",),
            message="two-layer ReLU teacher-student: train loss and feature sparsity",
        ),
        Figure("relu_1d", reads=("relu_1d",), config=(), message="two-layer ReLU 1-D regression: train loss, feature sparsity, learned functions"),
        Figure(
            "relu_three_layer",
            reads=("relu_three_layer",),
            config=(),
            message="three-layer ReLU teacher-student: losses, gradient rank and per-layer feature sparsity",
        ),
        Figure(
            "deep_sparsity", reads=("deep",), config=(), message="deep nets: feature sparsity and test error vs the length of the large-step phase"
        ),
        Figure(
            "deep_sota_sparsity",
            reads=("deep_sota",),
            config=(),
            message="state-of-the-art setting: feature sparsity and test error vs the large-step phase",
        ),
        Figure(
            "deep_densenet_sparsity",
            reads=("deep_densenet",),
            config=(),
            message="DenseNets: feature sparsity per dense block and test error vs the large-step phase",
        ),
    ),
)
