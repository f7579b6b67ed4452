"""The quadratic_chaos paper as the workflow, the report and the tests see it (:mod:`sgdrepro.core.manifest`)."""

from sgdrepro.core.manifest import Experiment, Figure, Manifest

MANIFEST = Manifest(
    key="quadratic_chaos",
    title="Chen, Balasubramanian, Ghosal, Agrawalla: From Stability to Chaos: GD dynamics in quadratic regression (TMLR 2024)",
    position=3,
    experiments=(
        Experiment("orthogonal", "full-batch GD, phase retrieval and two-layer net on orthonormal data, one step size per phase"),
        Experiment("bifurcation", "full-batch GD, phase retrieval and two-layer net on orthonormal data over a fine grid of normalised step sizes"),
        Experiment("gaussian_losses", "full-batch GD, phase retrieval and two-layer net on Gaussian data, one step size per phase"),
        Experiment("gaussian_phase_map", "full-batch GD, phase retrieval on Gaussian data over step size and sample size"),
        Experiment("generalization", "full-batch GD, two-layer net on Gaussian data, last iterate and ergodic average"),
    ),
    figures=(
        Figure(
            "loss_curves_orthogonal",
            reads=("orthogonal",),
            config=("orthogonal",),
            message="training loss curves on orthonormal data, one panel per phase and model",
        ),
        Figure(
            "bifurcation",
            reads=("bifurcation",),
            config=(),
            message="bifurcation diagrams of GD on orthonormal data, a panel per model: late iterates, Lyapunov exponent, boundaries",
        ),
        Figure(
            "loss_curves_gaussian",
            reads=("gaussian_losses",),
            config=("gaussian_losses",),
            message="training loss curves on Gaussian data, one panel per phase and model",
        ),
        Figure(
            "phase_map_gaussian",
            reads=("gaussian_phase_map",),
            config=("gaussian_phase_map",),
            message="measured GD phase of phase retrieval on Gaussian data over step a and sample size n, boundaries against orthonormal",
        ),
        Figure(
            "generalization",
            reads=("generalization",),
            config=("generalization",),
            message="two-layer net test error along GD, last iterate against ergodic average, one panel per phase",
        ),
    ),
)
