"""Snakemake entry point: see sgdrepro.core.entry.train_job."""

from sgdrepro.core.entry import train_job

train_job(snakemake)  # noqa: F821 (injected by Snakemake)
