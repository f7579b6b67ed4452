# Config validation, the plan of every job (sgdrepro.core.dag) and the report: the rules of the
# papers are in papers.smk, computed from each paper's manifest.
import sys
from pathlib import Path

from snakemake.utils import min_version

from sgdrepro.core import numerics
from sgdrepro.core.config import ConfigError, validate_config
from sgdrepro.core.dag import FigureCaption, Plan

min_version("9.0")


RESULTS = "results"
SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"

# Fail before any job with one line naming the key, the value and what is allowed (defaults from
# the schemas are filled in here). Data sets are checked later, when the DAG is built, and only
# those of the jobs it holds (sgdrepro.core.dag).
try:
    validate_config(config, SCHEMA, results_dir=RESULTS, datasets=False)
except ConfigError as error:
    sys.exit(f"sgdrepro config error: {error}")

# Every job is a process started after this line: it inherits the pinned CPU code paths.
numerics.apply(config["numerics"])

plan = Plan(config, RESULTS)


wildcard_constraints:
    paper=plan.wildcard_pattern("paper"),
    experiment=plan.wildcard_pattern("experiment"),
    figure=plan.wildcard_pattern("figure"),


localrules:
    all,
    figure,
    claims,
    report,


rule report:
    input:
        plan.report_inputs,
    output:
        html=f"{RESULTS}/report.html",
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        "../../envs/sgdrepro.yaml"
    threads: 1
    params:
        papers=plan.report_papers,
        results_dir=plan.results_dir_of,
    message:
        "Gathering every paper's claims and figures into {output.html}"
    script:
        "../../scripts/report.py"
