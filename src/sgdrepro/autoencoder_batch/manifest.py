"""The autoencoder_batch paper as the workflow, the report and the tests see it (:mod:`sgdrepro.core.manifest`)."""

from sgdrepro.core.manifest import Experiment, Figure, Manifest

MANIFEST = Manifest(
    key="autoencoder_batch",
    title="Ghosh, Frei, Ha, Yu: The Effect of SGD Batch Size on Autoencoder Learning (JMLR 2025)",
    position=4,
    experiments=(Experiment("orthogonal", "SGD with every batch size 1..n on orthonormal data (linear and ReLU, reshuffled and cyclic)"),),
    figures=(
        Figure(
            "sparsity_vs_batch_size", reads=("orthogonal",), config=(), message="number of nonzero coordinates of the solution against the batch size"
        ),
        Figure(
            "alignment_vs_batch_size",
            reads=("orthogonal",),
            config=(),
            message="alignment of the solution with the (projected) initialization against the batch size",
        ),
        Figure("sharpness_vs_batch_size", reads=("orthogonal",), config=(), message="trace of the Hessian at the solution against the batch size"),
        Figure("coordinate_trajectories", reads=("orthogonal",), config=("figures",), message="coordinates c_i over training for b = n and b < n"),
        Figure("loss_vs_step", reads=("orthogonal",), config=(), message="excess loss over training for every batch size"),
    ),
)
