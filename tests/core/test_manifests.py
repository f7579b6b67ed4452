"""The papers' manifests: each agrees with its package, its config and itself."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from sgdrepro.core.config import load_config
from sgdrepro.core.manifest import Experiment, Figure, Manifest, ManifestError, manifests

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_config(REPO / "config")


def test_every_paper_package_has_a_manifest():
    packages = {p.name for p in (REPO / "src" / "sgdrepro").iterdir()
                if (p / "__init__.py").exists() and p.name != "core" and not p.name.startswith("_")}
    assert packages == set(manifests())
    assert [m.position for m in manifests().values()] == sorted(m.position for m in manifests().values())


@pytest.mark.parametrize("paper", list(manifests()))
def test_manifest_names_the_functions_and_config_sections_there_are(paper):
    manifest = manifests()[paper]
    experiments = importlib.import_module(f"sgdrepro.{paper}.experiments")
    figures = importlib.import_module(f"sgdrepro.{paper}.figures")
    for name in manifest.experiment_names:
        assert callable(getattr(experiments, f"run_{name}", None)), f"{paper}: no run_{name}"
    for figure in manifest.figures:
        assert callable(getattr(figures, f"plot_{figure.name}", None)), f"{paper}: no plot_{figure.name}"
    # every plot_ and run_ function the module defines is declared (an undeclared one would never be built)
    assert _defined(experiments, "run_") == set(manifest.experiment_names)
    assert _defined(figures, "plot_") == set(manifest.figure_names)
    for scale in ("quick", "paper"):
        section = CONFIG[paper][scale]
        assert set(manifest.experiment_names) <= set(section), (paper, scale)
        for figure in manifest.figures:
            assert set(figure.config) <= set(section), (paper, scale, figure.name, figure.config)


def _defined(module, prefix: str) -> set[str]:
    return {name[len(prefix):] for name, obj in vars(module).items()
            if name.startswith(prefix) and callable(obj) and getattr(obj, "__module__", None) == module.__name__}


def _manifest(**changes) -> Manifest:
    parts = {"key": "toy", "title": "Toy", "position": 1,
             "experiments": (Experiment("a", "a"), Experiment("b", "b")),
             "figures": (Figure("f", reads=("a",), config=(), message="f"),)}
    return Manifest(**{**parts, **changes})


@pytest.mark.parametrize("changes, message", [
    ({"figures": (Figure("f", reads=("c",), config=(), message="f"),)}, "figure 'f' reads ['c']; its experiments are a, b"),
    ({"figures": (Figure("f", reads=(), config=(), message="f"),)}, "figure 'f' reads nothing"),
    ({"experiments": (Experiment("a", "a"), Experiment("a", "again"))}, "experiment a declared twice"),
    ({"key": "Toy-paper"}, "paper 'Toy-paper': a name is lower-case letters"),
    ({"experiments": (Experiment("a b", "a"),), "figures": ()}, "experiment 'a b'"),
])
def test_a_manifest_that_contradicts_itself_is_refused(changes, message):
    _manifest()  # the unchanged one is fine
    with pytest.raises(ManifestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _manifest(**changes)


def test_no_paper_is_named_outside_its_own_package():
    """The spine, the Snakefile, the rules, the profiles and the shared test helpers know papers
    only through their manifests (a sixth paper needs no edit there)."""
    places = [REPO / "Snakefile", REPO / "tests" / "conftest.py", REPO / "workflow" / "schemas" / "config.schema.yaml",
              *(REPO / "src" / "sgdrepro" / "core").rglob("*.py"), *(REPO / "workflow" / "rules").glob("*.smk"),
              *(REPO / "profiles").rglob("*.yaml")]
    named = [(str(path.relative_to(REPO)), paper) for path in places for paper in manifests()
             if paper in path.read_text()]
    assert named == []
