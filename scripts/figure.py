"""Snakemake entry point: see sgdrepro.core.entry.figure_job."""

from sgdrepro.core.entry import figure_job

figure_job(snakemake)  # noqa: F821 (injected by Snakemake)
