"""The heavy_tail paper as the workflow, the report and the tests see it (:mod:`sgdrepro.core.manifest`)."""

from sgdrepro.core.manifest import Experiment, Figure, Manifest

MANIFEST = Manifest(
    key="heavy_tail",
    title="Gurbuzbalaban, Simsekli, Zhu: The Heavy-Tail Phenomenon in SGD (ICML 2021)",
    position=1,
    experiments=(
        Experiment("linreg", "online SGD on Gaussian linear regression over the (eta, b) grid, fresh data every step"),
        Experiment("linreg_dim", "online SGD on Gaussian linear regression over the dimension d"),
        Experiment("linreg_sigma", "online SGD on Gaussian linear regression over the data scale sigma (Hessian sigma^2 I)"),
        Experiment("linreg_finite", "multi-pass SGD on one fixed Gaussian regression data set (the authors' setting)"),
        Experiment("mlp", "SGD on bias-free ReLU networks over the (eta, b) grid"),
    ),
    figures=(
        Figure(
            "alpha_vs_lr",
            reads=("linreg",),
            config=("analysis",),
            message="tail index against step size for several batch sizes, with the theoretical root of h(alpha) = 1",
        ),
        Figure(
            "alpha_vs_batch",
            reads=("linreg",),
            config=("analysis",),
            message="tail index against batch size for several step sizes, with the theoretical root of h(alpha) = 1",
        ),
        Figure(
            "alpha_vs_dim",
            reads=("linreg_dim",),
            config=("analysis",),
            message="tail index against the dimension d, with the theoretical root of h(alpha) = 1",
        ),
        Figure(
            "alpha_vs_sigma",
            reads=("linreg_sigma",),
            config=("analysis",),
            message="tail index against the data scale sigma (curvature), with the theoretical root of h(alpha) = 1",
        ),
        Figure(
            "tail_survival",
            reads=("linreg",),
            config=("analysis",),
            message="histogram and log-log survival function of iterate coordinates, heavy against light tails",
        ),
        Figure(
            "streaming_vs_finite",
            reads=("linreg", "linreg_finite"),
            config=("analysis",),
            message="tail index of streaming SGD against SGD on one finite data set, and of its averaged iterates (the authors' estimate)",
        ),
        Figure(
            "mlp_alpha_vs_lr_over_b", reads=("mlp",), config=("analysis",), message="per-layer weight tail index of the ReLU networks against eta/b"
        ),
        Figure(
            "mlp_accuracy_vs_alpha",
            reads=("mlp",),
            config=("analysis",),
            message="test accuracy of the ReLU networks against their weight tail index",
        ),
    ),
)
