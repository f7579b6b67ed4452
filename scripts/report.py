"""Snakemake entry point: see sgdrepro.core.entry.report_job."""

from sgdrepro.core.entry import report_job

report_job(snakemake)  # noqa: F821 (injected by Snakemake)
