"""Every `snakemake` command of the README and config/README.md works as written: each is
dry-run (``-n``) from the repository root into a scratch directory. The only change is
``allow_missing_datasets=true`` (this machine has no MNIST or CIFAR: the paper scale would stop,
by design, naming the missing data set). The cluster commands run with the real SLURM profile;
a dry run submits nothing, so no cluster is needed."""

from __future__ import annotations

import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "config/README.md")


def documented_commands(text: str) -> list[str]:
    """The `snakemake ...` commands in the fenced code blocks of a markdown text (after a
    `pip install ... &&`, continuation lines joined, comments dropped)."""
    commands, block, shell = [], None, False
    for line in text.splitlines():
        if line.startswith("```"):
            if block is None:
                block, shell = [], line[3:].strip() in ("", "bash", "sh")
                continue
            if shell:
                commands += _snakemake_lines("\n".join(block))
            block = None
        elif block is not None:
            block.append(line)
    return commands


def _snakemake_lines(block: str) -> list[str]:
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        part = line.split(" #")[0].split("&&")[-1].strip()
        if part.startswith("snakemake "):
            found.append(part)
    return found


def dry_run_args(command: str, workdir: Path) -> list[str]:
    words = shlex.split(command)
    assert words[0] == "snakemake"
    extra = ["allow_missing_datasets=true"]
    if "--config" in words:
        at = words.index("--config") + 1
        words[at:at] = extra
    else:
        words[1:1] = ["--config", *extra]
    return [sys.executable, "-m", "snakemake", "-n", "-d", str(workdir), *words[1:]]


def test_the_commands_are_found():
    text = (REPO / "README.md").read_text()
    commands = documented_commands(text)
    assert "snakemake --cores all" in commands  # the set-up command after `pip install -e . &&`
    assert any("--workflow-profile profiles/slurm" in c for c in commands)
    assert dry_run_args("snakemake --cores all x.pdf --config a=1", Path("/w"))[3:] == [
        "-n", "-d", "/w", "--cores", "all", "x.pdf", "--config", "allow_missing_datasets=true", "a=1"]


@pytest.mark.slow
def test_every_documented_command_dry_runs(tmp_path):
    commands = sorted({c for doc in DOCS if (REPO / doc).exists() for c in documented_commands((REPO / doc).read_text())})
    assert len(commands) >= 8

    def dry_run(indexed):
        i, command = indexed
        return command, subprocess.run(dry_run_args(command, tmp_path / f"w{i}"), cwd=REPO, capture_output=True,
                                       text=True, check=False)

    with ThreadPoolExecutor(2) as pool:
        failed = [(command, (done.stdout + done.stderr)[-1500:]) for command, done in pool.map(dry_run, enumerate(commands))
                  if done.returncode != 0 or "This was a dry-run" not in done.stdout + done.stderr]
    assert not failed, "\n\n".join(f"{command}\n{tail}" for command, tail in failed)
