"""Snakemake entry point: see sgdrepro.core.entry.claims_job."""

from sgdrepro.core.entry import claims_job

claims_job(snakemake)  # noqa: F821 (injected by Snakemake)
