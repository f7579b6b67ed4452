# sgdrepro: one DAG for the figures and claims of every paper on (S)GD dynamics in sgdrepro.
# Table of contents only: config, rule files, default target. Each paper is its package's
# manifest (sgdrepro/<paper>/manifest.py); the rules are generic.


from sgdrepro.core.config import paper_config_files


configfile: f"{workflow.basedir}/config/config.yaml"


# then config/<paper>.yaml for every paper's manifest (--config and --configfile still win)
for paper_file in paper_config_files(f"{workflow.basedir}/config"):

    configfile: paper_file


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/papers.smk"


rule all:
    default_target: True
    input:
        plan.all_targets,
