"""The workflow on SLURM through snakemake-executor-plugin-slurm and profiles/slurm.

Two levels:

* Requests (no SLURM needed): Snakemake runs the real DAG under the real profile and the real
  executor plugin, with stand-ins for the SLURM commands on PATH. The stand-in `sbatch` records
  its arguments and refuses the job, so nothing runs; the test then checks what each training job
  asked SLURM for against the config (CPU setting and the GPU overlay profiles/slurm/gpu.yaml), and,
  from the parsed workflow, that every cheap rule (figures, claims, report) is local.
* A real single-node SLURM (marked ``cluster``): tests/cluster/start_slurm.sh installs and starts
  slurmctld/slurmd/munge; one paper's DAG goes through sbatch and must give byte-identical
  outputs to a local ``--cores`` run; a cancelled SLURM job followed by a rerun of the same
  command must again give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sgdrepro.core.config import load_config

pytest.importorskip("snakemake_executor_plugin_slurm", reason="snakemake-executor-plugin-slurm is not installed")

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
GPU_OVERLAY = PROFILE / "gpu.yaml"
TEST_CONFIG = REPO / "config" / "test.yaml"
START_SLURM = Path(__file__).resolve().parent / "start_slurm.sh"
# The paper whose tiny DAG the live cluster tests run (about a minute of training on 2 cores).
CLUSTER_PAPERS = os.environ.get("SGDREPRO_CLUSTER_PAPERS", "quadratic_chaos").split(",")
RESULT_SUFFIXES = {".nc", ".pdf", ".png", ".json", ".html"}
ENV = {**os.environ, "PYTHONHASHSEED": "0"}

# The rules of the workflow as Snakemake parses them: name, local or not, the script it runs.
_PROBE = r"""
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
snakefile, workdir, configfiles, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                      config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles], config=config),
                      snakefile=Path(snakefile), workdir=Path(workdir))._workflow
    rules = {r.name: {"local": r.name in wf._localrules or r.norun,
                      "script": Path(r.script).name if r.script else None} for r in wf.rules}
print("RULES=" + json.dumps(rules))
"""


@pytest.fixture(scope="module")
def workflow_rules(tmp_path_factory) -> dict[str, dict]:
    workdir = tmp_path_factory.mktemp("rules")
    cmd = [sys.executable, "-c", _PROBE, str(REPO / "Snakefile"), str(workdir),
           json.dumps([str(TEST_CONFIG)]), json.dumps({"papers": []})]
    result = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=workdir)
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("RULES=")]
    assert result.returncode == 0 and line, f"parsing the workflow failed:\n{result.stderr[-4000:]}"
    return json.loads(line[-1][len("RULES="):])


def papers_with_rules(rules: dict) -> list[str]:
    """Every paper, when the workflow's generic rules are there (they serve every manifest)."""
    from sgdrepro.core.manifest import manifests

    return list(manifests()) if {"train", "figure", "claims"} <= set(rules) else []


def train_rules(rules: dict) -> set[str]:
    return {name for name, rule in rules.items() if rule["script"] == "train.py"}


def write_resources(path: Path, threads: int, mem_mb: int, runtime: int, gpu: int) -> Path:
    """A config overlay giving every training job these resources (per-rule overrides included)."""
    base = load_config(REPO / "config")["resources"]
    tiny = (yaml.safe_load(TEST_CONFIG.read_text()) or {}).get("resources", {})
    keys = set(base.get("rules") or {}) | set(tiny.get("rules") or {})
    want = {"threads": threads, "mem_mb": mem_mb, "runtime": runtime}
    overlay = {"resources": {"train": dict(want), "light": {"threads": 1, "mem_mb": 321, "runtime": 3},
                             "rules": {key: {**want, "gpu": gpu} for key in keys}}}
    path.write_text(yaml.safe_dump(overlay))
    return path


def load_profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


# ------------------------------------------------------------------------------------------------
# The profile and the rules (no SLURM)
# ------------------------------------------------------------------------------------------------

def test_profile_settings():
    profile = load_profile()
    assert profile["executor"] == "slurm"
    defaults = profile["default-resources"]
    # threads reach SLURM as --cpus-per-task; a number here would override every rule's threads
    assert defaults["cpus_per_task"] == "threads"
    assert {"runtime", "mem_mb", "slurm_partition", "slurm_account"} <= set(defaults)
    assert "set-resources" not in profile, "per-rule resources live in config (resources.rules), not the profile"
    assert "threads" not in defaults, "threads are set with set-threads, never as a resource"
    assert profile["retries"] >= 1 and profile["latency-wait"] >= 30 and profile["jobs"] >= 1
    gpu = yaml.safe_load(GPU_OVERLAY.read_text())
    assert gpu["resources"]["train"]["gpu"] == 1


def test_every_training_rule_is_grouped(workflow_rules):
    """The profile's `groups` names exactly the training rules (a renamed rule would escape it)."""
    groups = load_profile()["groups"]
    trains = train_rules(workflow_rules)
    assert trains, "no training rule found"
    assert set(groups) == trains, f"in profile only: {sorted(set(groups) - trains)}; rules only: {sorted(trains - set(groups))}"
    assert set(groups.values()) == set(load_profile()["group-components"])


def test_cheap_rules_are_local(workflow_rules):
    """Figures, claims, the report and `all` run in the main process, never as cluster jobs."""
    remote = sorted(name for name, rule in workflow_rules.items() if not rule["local"])
    assert set(remote) == train_rules(workflow_rules), f"rules that would be SLURM jobs: {remote}"


FAKE_SLURM = {
    # records each submission (argv as JSON, one line each) and refuses it: nothing runs
    "sbatch": f"#!{sys.executable}\nimport json, os, sys\n"
              "with open(os.environ['FAKE_SBATCH_LOG'], 'a') as log:\n    log.write(json.dumps(sys.argv[1:]) + '\\n')\n"
              "sys.exit('fake sbatch: recorded')\n",
    "sacctmgr": "#!/bin/sh\necho sgdtest_account\n",
    "sinfo": "#!/bin/sh\necho 'PARTITION'; echo 'sgdtest_partition*'\n",
    "squeue": "#!/bin/sh\nexit 0\n",
    "sacct": "#!/bin/sh\nexit 0\n",
    "scontrol": "#!/bin/sh\nexit 0\n",
    "scancel": "#!/bin/sh\nexit 0\n",
}


def _option(argv: list[str], *names: str) -> str | None:
    """Value of an sbatch option given as `--name value`, `--name=value` or `-n value`."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _target_jobs(argv: list[str]) -> list[str]:
    """`rule:wildcards` of the Snakemake jobs an sbatch call runs (the wrapped `--target-jobs`)."""
    wrap = _option(argv, "--wrap") or ""
    tokens = shlex.split(wrap)
    start = tokens.index("--target-jobs") + 1
    jobs = []
    for token in tokens[start:]:
        if token.startswith("--"):
            break
        jobs.append(token)
    return jobs


@pytest.mark.parametrize("setting", ["cpu", "gpu"])
def test_sbatch_requests_follow_config(setting, workflow_rules, tmp_path):
    """What each job asks SLURM for, with the real profile and plugin and stand-in SLURM commands."""
    papers = papers_with_rules(workflow_rules)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in FAKE_SLURM.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "sbatch.jsonl"
    gpus = 1 if setting == "gpu" else 0
    want = {"threads": 2, "mem_mb": 1234, "runtime": 17}
    write_resources(tmp_path / "resources.yaml", **want, gpu=gpus)
    configfiles = [str(TEST_CONFIG), str(tmp_path / "resources.yaml")]
    if setting == "gpu":
        configfiles.append(str(GPU_OVERLAY))
    workdir = tmp_path / "run"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--workflow-profile", str(PROFILE), "--configfile", *configfiles,
           "--config", f"papers={json.dumps(papers)}", "--retries", "0", "--slurm-status-command", "squeue"]
    env = {**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV['PATH']}", "FAKE_SBATCH_LOG": str(log),
           "SGDREPRO_SLURM_PARTITION": "sgdtest_partition", "SGDREPRO_SLURM_ACCOUNT": "sgdtest_account"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert log.exists(), f"nothing was submitted:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert result.returncode != 0  # every submission was refused, so the run fails

    jobs = [job for argv in calls for job in _target_jobs(argv)]
    submitted = {job.split(":", 1)[0] for job in jobs}
    # training jobs are the DAG's roots: each is submitted once; nothing else is submitted
    assert len(jobs) == len(set(jobs)), jobs
    assert submitted <= train_rules(workflow_rules), submitted
    for paper in papers:  # a job is named rule:wildcard=value,...
        assert any(f"paper={paper}" in job.split(":", 1)[1] for job in jobs), f"no {paper} training job submitted"
    for argv in calls:
        where = f"{_target_jobs(argv)}: {argv[:-1]}"
        assert _option(argv, "-p", "--partition") == "sgdtest_partition", where
        assert _option(argv, "-A", "--account") == "sgdtest_account", where
        assert _option(argv, "--mem") == str(want["mem_mb"]), where
        assert _option(argv, "-t", "--time") == str(want["runtime"]), where
        assert _option(argv, "--cpus-per-task") == str(want["threads"]), where
        assert _option(argv, "--gpus") == (str(gpus) if gpus else None), where
        assert _option(argv, "--gres") is None, where  # gpu and gres are mutually exclusive


# ------------------------------------------------------------------------------------------------
# A real single-node SLURM
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def slurm_cluster():
    """Install (apt-get), configure and start a one-node SLURM on this machine, or skip saying why."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("SLURM cannot start here: tests/cluster/start_slurm.sh needs root on Linux")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("SLURM cannot start here: no apt-get to install slurm-wlm and munge (Debian/Ubuntu only)")
    result = subprocess.run(["bash", str(START_SLURM)], capture_output=True, text=True, timeout=900)
    if result.returncode == 2:
        pytest.skip(f"SLURM cannot start here: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 0, f"start_slurm.sh failed:\n{result.stdout}\n{result.stderr}"
    return True


def live_configfiles(directory: Path) -> list[str]:
    """The tiny config, with requests that fit a small one-node cluster (1 CPU, 1 GB each)."""
    return [str(TEST_CONFIG), str(write_resources(directory / "resources.yaml", 1, 1000, 30, 0))]


def slurm_command(workdir: Path, papers: list[str], *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--workflow-profile", str(PROFILE), "--configfile", *live_configfiles(workdir.parent),
            "--config", f"papers={json.dumps(papers)}",
            # this cluster has no accounting database (see start_slurm.sh); poll every few seconds
            "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
            "--seconds-between-status-checks", "2", "--slurm-keep-successful-logs",
            "--latency-wait", "10", *extra]


SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def digests(workdir: Path) -> dict[str, str]:
    root = workdir / "results"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in RESULT_SUFFIXES}


def controller_states(job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """SLURM job id -> (state, name) from slurmctld (squeue keeps ended jobs for MinJobAge)."""
    out = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T|%j", "--jobs", ",".join(job_ids)],
                         capture_output=True, text=True, check=True).stdout
    return {i: (state, name) for i, state, name in (line.split("|") for line in out.split())}


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    """The same target run locally with --cores 2: the bytes every SLURM run must reproduce."""
    workdir = tmp_path_factory.mktemp("local")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir / "run"),
           "--cores", "2", "--quiet", "rules", "--configfile", *live_configfiles(workdir),
           "--config", f"papers={json.dumps(CLUSTER_PAPERS)}"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=workdir)
    assert result.returncode == 0, f"local run failed:\n{(result.stdout + result.stderr)[-8000:]}"
    workdir = workdir / "run"
    result = digests(workdir)
    assert any(name.endswith(".nc") for name in result) and "report.html" in result
    return result


@pytest.mark.cluster
@pytest.mark.slow
def test_slurm_run_matches_local_run(slurm_cluster, local_reference, workflow_rules, tmp_path):
    workdir = tmp_path / "slurm"
    started = time.monotonic()
    result = subprocess.run(slurm_command(workdir, CLUSTER_PAPERS), capture_output=True, text=True, env=ENV,
                            cwd=tmp_path, timeout=1200)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"SLURM run failed:\n{output[-8000:]}"
    print(f"SLURM run of {CLUSTER_PAPERS}: {elapsed:.0f} s")

    submissions = SUBMITTED.findall(output)
    assert submissions, f"no job went through sbatch:\n{output[-4000:]}"
    slurm_ids = [slurm_id for _, slurm_id, _ in submissions]
    # the controller ran every submitted job to completion, under this run's job name
    states = controller_states(slurm_ids)
    assert set(states) == set(slurm_ids), f"jobs unknown to slurmctld: {set(slurm_ids) - set(states)}"
    assert {state for state, _ in states.values()} == {"COMPLETED"}, states
    assert len({name for _, name in states.values()}) == 1  # the plugin names jobs by run id
    # one SLURM job per training job (group-components train=1); figures, claims, report stayed local
    n_train = len(list((workdir / "results").rglob("data/*.nc")))
    assert len(submissions) == n_train, f"{len(submissions)} SLURM jobs for {n_train} trajectories"
    for _, slurm_id, log in submissions:
        text = Path(log).read_text()
        rules = set(re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)", text, flags=re.M))
        assert rules and rules <= train_rules(workflow_rules), f"SLURM job {slurm_id} ran {rules}"
    # the same bytes as the local run
    assert digests(workdir) == local_reference


@pytest.mark.cluster
@pytest.mark.slow
def test_cancelled_job_then_rerun_gives_same_outputs(slurm_cluster, local_reference, tmp_path):
    """scancel a running training job, stop Snakemake, rerun the same command: complete and identical."""
    workdir = tmp_path / "slurm"
    # no retry, so the cancellation is not healed inside the first run
    cmd = slurm_command(workdir, CLUSTER_PAPERS, "--retries", "0")
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=ENV, cwd=tmp_path,
                             start_new_session=True)
    cancelled = None
    try:
        deadline = time.monotonic() + 600
        while cancelled is None and time.monotonic() < deadline and first.poll() is None:
            time.sleep(1)
            ids = [i for _, i, _ in SUBMITTED.findall((tmp_path / "first.log").read_text())]
            if not ids:
                continue
            running = [i for i, (state, _) in controller_states(ids).items() if state == "RUNNING"]
            if running:
                cancelled = max(running, key=int)  # the latest started: the furthest from finishing
                subprocess.run(["scancel", cancelled], check=True)
        assert cancelled is not None, "no SLURM job was seen running"
        first.wait(timeout=900)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGINT)  # Snakemake cancels its SLURM jobs on SIGINT
            first.wait(timeout=120)
        log.close()
    first_log = (tmp_path / "first.log").read_text()
    assert first.returncode != 0, "the run with a cancelled job should fail"
    assert "CANCELLED" in first_log, first_log[-4000:]

    second = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=1200)
    assert second.returncode == 0, f"rerun failed:\n{(second.stdout + second.stderr)[-8000:]}"
    assert SUBMITTED.findall(second.stdout + second.stderr), "the rerun submitted nothing"
    assert digests(workdir) == local_reference
