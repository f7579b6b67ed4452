# sgdrepro: one DAG for the figures and claims of every paper on (S)GD dynamics in sgdrepro.
# Table of contents only: config, rule files, default target. Each paper is its package's
# manifest (sgdrepro/<paper>/manifest.py); the rules are generic.


import sys

from sgdrepro.core.config import ConfigError, paper_config_files


configfile: f"{workflow.basedir}/config/config.yaml"


# then config/<paper>.yaml for every paper's manifest (--config and --configfile still win)
try:
    paper_files = paper_config_files(f"{workflow.basedir}/config")
except ConfigError as error:
    sys.exit(f"sgdrepro config error: {error}")
for paper_file in paper_files:

    configfile: paper_file


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/papers.smk"


rule all:
    default_target: True
    input:
        plan.all_targets,
