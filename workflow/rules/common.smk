# Helpers every rule file shares: config validation, target lists, per-rule resources.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from sgdrepro.core import numerics
from sgdrepro.core.config import ConfigError, validate_config
from sgdrepro.core.datasets import DatasetMissing

min_version("9.0")

# One environment for every rule, used with --software-deployment-method conda.
conda: "../../envs/sgdrepro.yaml"

RESULTS = "results"
SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"

# Fail before any job with one line naming the key, the value and what is allowed.
try:
    validate_config(config, SCHEMA, results_dir=RESULTS)
except (ConfigError, DatasetMissing) as error:
    sys.exit(f"sgdrepro config error: {error}")
validate(config, "../schemas/config.schema.yaml")

# Every job is a process started after this line: it inherits the pinned CPU code paths.
numerics.apply(config["numerics"])

SCALE = config["scale"]
PAPERS = list(config["papers"])
PAPER_FIGURES = {}  # paper -> figure names, filled by each <paper>.smk through register_figures


def register_figures(paper, figures):
    PAPER_FIGURES[paper] = list(figures)


def paper_cfg(paper):
    """The paper's config section at the active scale."""
    return config[paper][SCALE]


def experiment_cfg(paper, experiment):
    return paper_cfg(paper)[experiment]


def data_path(paper, experiment):
    return f"{RESULTS}/{paper}/data/{experiment}.nc"


def figure_paths(paper, figure):
    return {
        "pdf": f"{RESULTS}/{paper}/figures/{figure}.pdf",
        "png": f"{RESULTS}/{paper}/figures/{figure}.png",
    }


def claims_path(paper):
    return f"{RESULTS}/{paper}/claims.json"


def log_path(paper, name):
    return f"{RESULTS}/{paper}/logs/{name}.log"


def rule_resources(kind, rule_name):
    """Resources of a rule: the config's defaults for its kind, overridden per rule name."""
    spec = dict(config["resources"][kind])
    spec.update(config["resources"].get("rules", {}).get(rule_name, {}))
    return spec


def threads_of(kind, rule_name):
    return int(rule_resources(kind, rule_name)["threads"])


def resource_of(kind, rule_name, key):
    return rule_resources(kind, rule_name)[key]


def paper_targets(paper):
    figures = PAPER_FIGURES.get(paper, [])
    return [figure_paths(paper, f)[ext] for f in figures for ext in ("pdf", "png")] + [claims_path(paper)]


def report_papers():
    return {
        paper: {
            "claims": claims_path(paper),
            "figures": [figure_paths(paper, f)["png"] for f in PAPER_FIGURES.get(paper, [])],
        }
        for paper in PAPERS
    }


def all_targets(wildcards):
    return [target for paper in PAPERS for target in paper_targets(paper)] + [f"{RESULTS}/report.html"]


localrules:
    all,
    report,


rule report:
    input:
        lambda wildcards: [t for paper in PAPERS for t in paper_targets(paper)],
    output:
        html=f"{RESULTS}/report.html",
    params:
        papers=lambda wildcards: report_papers(),
        results_dir=RESULTS,
    log:
        f"{RESULTS}/logs/report.log",
    message:
        "Gathering every paper's claims and figures into {output.html}"
    threads: 1
    script:
        "../../scripts/report.py"
