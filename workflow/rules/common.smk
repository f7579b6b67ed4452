# Helpers every rule file shares: config validation, target lists, per-rule resources.
import functools
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from sgdrepro.core import numerics
from sgdrepro.core.config import ConfigError, validate_config
from sgdrepro.core.datasets import DatasetError, DatasetMissing, check_dataset, missing_message, needed_datasets

min_version("9.0")


# One environment for every rule, used with --software-deployment-method conda.
conda: "../../envs/sgdrepro.yaml"


RESULTS = "results"
SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"

# Fail before any job with one line naming the key, the value and what is allowed. Data sets
# are checked later, when the DAG is built, and only those of the jobs it holds (see below).
try:
    validate_config(config, SCHEMA, results_dir=RESULTS, datasets=False)
except ConfigError as error:
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


def benchmark_path(paper, name):
    """Snakemake's own measurement of a job: wall and CPU time, peak memory (max_rss), I/O."""
    return f"{RESULTS}/{paper}/benchmarks/{name}.tsv"


def rule_resources(kind, rule_name):
    """Resources of a rule: the config's defaults for its kind, then the measured requests of the
    active scale (``resources.scales``), then the user's per-rule overrides (``resources.rules``)."""
    spec = dict(config["resources"][kind])
    spec.update(config["resources"].get("scales", {}).get(SCALE, {}).get(rule_name, {}))
    spec.update(config["resources"].get("rules", {}).get(rule_name, {}))
    return spec


def threads_of(kind, rule_name):
    return int(rule_resources(kind, rule_name)["threads"])


def resource_of(kind, rule_name, key):
    return rule_resources(kind, rule_name)[key]


# ---------------------------------------------------------------- real data sets
# Checked before any job, and only for the jobs of the requested targets: the functions below run
# as input functions, which Snakemake calls only for the jobs in the DAG (also in a dry run).
# The default target and report.html check every data set the config names (left_out); a training
# rule that reads one checks its own (dataset_input), for targets named on the command line.
NEEDED_DATASETS = needed_datasets(config)  # {(paper, experiment): data set}, from the config alone


@functools.cache
def dataset_problem(name):
    """The DatasetError of a data set (missing, or not the published files), or None; once per process."""
    try:
        check_dataset(name, config.get("datasets_dir"), verify=True)
    except DatasetError as error:
        return error
    return None


@functools.cache
def data_read_by():
    """{output file: the files its rule reads}, over every rule (called once the rules are all defined)."""
    return {str(out): {str(f) for f in rule.input if isinstance(f, str)} for rule in workflow.rules for out in rule.output}


def outputs_reading(paper, experiment):
    """The paper's figures (by name) and claims ('claims.json') whose rules read the experiment."""
    reads, nc = data_read_by(), data_path(paper, experiment)
    figures = [f for f in PAPER_FIGURES.get(paper, []) if nc in reads.get(figure_paths(paper, f)["pdf"], ())]
    return figures + (["claims.json"] if nc in reads.get(claims_path(paper), ()) else [])


def needed_by(name):
    """What needs data set ``name``, in words: each experiment that reads it and the outputs that read that."""
    parts = []
    for (paper, experiment), dataset in NEEDED_DATASETS.items():
        if dataset == name:
            outputs = outputs_reading(paper, experiment)
            words = [f"figure {f}" for f in outputs if f != "claims.json"]
            words += [f"{paper} claims"] if "claims.json" in outputs else []
            parts.append(f"{paper}.{experiment} (for {', '.join(words) or 'no output'})")
    return "; ".join(parts)


@functools.cache
def left_out():
    """{(paper, figure or 'claims.json'): reason} of the outputs not built because a data set they
    read is unusable (allow_missing_datasets); without that key, stop before any job instead.
    A claims file is left out whole: each paper's claims code reads all its experiments."""
    problems = {n: e for n in dict.fromkeys(NEEDED_DATASETS.values()) if (e := dataset_problem(n)) is not None}
    if problems and not config.get("allow_missing_datasets", False):
        sys.exit(missing_message(problems, {name: needed_by(name) for name in problems}))
    state = {n: "missing from" if isinstance(e, DatasetMissing) else "not the published files in" for n, e in problems.items()}
    reasons = {}
    for (paper, experiment), name in NEEDED_DATASETS.items():
        if name in problems:
            reason = f"not built (data set {name} {state[name]} datasets_dir)"
            reasons.update({(paper, out): reason for out in outputs_reading(paper, experiment)})
    for name in problems:
        print(f"sgdrepro: data set {name} {state[name]} datasets_dir: leaving out {needed_by(name)} (allow_missing_datasets)", file=sys.stderr)
    return reasons


def dataset_input(paper, experiment):
    """Input function of a training rule that may read datasets_dir (adds no input file): stops the
    run before any job when the job is in the DAG and its data set is unusable."""

    def check(wildcards):
        name = NEEDED_DATASETS.get((paper, experiment))
        error = dataset_problem(name) if name else None
        if error is not None:  # the default target stopped earlier (left_out): a named target needs it
            sys.exit(missing_message({name: error}, {name: needed_by(name)}, asked=True))
        return []

    return check


def paper_targets(paper, left=()):
    """The paper's figures (pdf, png) and claims, less those in ``left`` (see left_out)."""
    figures = [f for f in PAPER_FIGURES.get(paper, []) if (paper, f) not in left]
    claims = [] if (paper, "claims.json") in left else [claims_path(paper)]
    return [figure_paths(paper, f)[ext] for f in figures for ext in ("pdf", "png")] + claims


def report_papers():
    papers = {}
    left = left_out()
    for paper in PAPERS:
        entry = {
            "claims": claims_path(paper),
            "figures": [figure_paths(paper, f)["png"] for f in PAPER_FIGURES.get(paper, []) if (paper, f) not in left],
        }
        not_built = {out: reason for (p, out), reason in left.items() if p == paper}
        if not_built:  # only then: with every data set there, the params (and the page) stay as they were
            entry["not_built"] = not_built
            entry["claims"] = None if "claims.json" in not_built else entry["claims"]
        papers[paper] = entry
    return papers


def all_targets(wildcards):
    left = left_out()
    return [target for paper in PAPERS for target in paper_targets(paper, left)] + [f"{RESULTS}/report.html"]


localrules:
    all,
    report,


rule report:
    input:
        lambda wildcards: [t for paper in PAPERS for t in paper_targets(paper, left_out())],
    output:
        html=f"{RESULTS}/report.html",
    log:
        f"{RESULTS}/logs/report.log",
    threads: 1
    params:
        papers=lambda wildcards: report_papers(),
        results_dir=RESULTS,
    message:
        "Gathering every paper's claims and figures into {output.html}"
    script:
        "../../scripts/report.py"
