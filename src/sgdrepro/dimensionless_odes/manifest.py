"""The dimensionless_odes paper as the workflow, the report and the tests see it (:mod:`sgdrepro.core.manifest`)."""

from sgdrepro.core.manifest import Experiment, Figure, Manifest

MANIFEST = Manifest(
    key="dimensionless_odes",
    title="Arnaboldi, Stephan, Krzakala, Loureiro: From high-dimensional & mean-field dynamics to dimensionless ODEs (COLT 2023)",
    position=2,
    experiments=(
        Experiment("collapse", "SGD at growing d against the ODE in dimensionless time"),
        Experiment("width", "SGD of several widths at fixed gamma/p in dimensionless time"),
        Experiment("floor", "late-time noise floor against the learning rate and the width"),
        Experiment("phase", "ODE of every (kappa, delta) cell at its own p and gamma over d, with SGD spot checks"),
    ),
    figures=(
        Figure("risk_collapse", reads=("collapse",), config=("collapse",), message="risk against t = steps gamma/(p d), SGD at growing d on the ODE"),
        Figure(
            "risk_width_collapse",
            reads=("width",),
            config=("width",),
            message="risk against t = steps gamma/(p d) for several widths at fixed gamma/p",
        ),
        Figure(
            "phase_diagram",
            reads=("phase",),
            config=("claims",),
            message="(kappa, delta) phase diagram from every cell's ODE, SGD spot checks, example curves",
        ),
        Figure("noise_floor", reads=("floor",), config=(), message="late-time noise floor against gamma and gamma/p, ODE and SGD"),
    ),
)
