"""A pipeline killed with SIGKILL in the middle of a training job recovers on the rerun.

The tiny DAG of one paper is started with ``--cores 1`` in its own process group; once at
least one trajectory file is finished and a training job is under way (its log says it
started and its output does not exist yet), the whole group gets SIGKILL: Snakemake and the
job die at once, with no chance to clean up. Then the same command is run again. Snakemake
refuses to start while the dead run's lock is there (its message says to use ``--unlock``,
which is what a user does); after ``--unlock`` the same command completes the DAG. Checked:

- nothing is half-written: every .nc opens with xarray, no ``.*.tmp*`` file is left in results/;
- outputs that were finished before the kill are not recomputed (their mtimes are unchanged);
- the killed job's output did not exist right after the kill, and exists after the rerun;
- no process of the killed group survives.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sgdrepro.core.manifest import manifests

REPO = Path(__file__).resolve().parents[2]
PAPERS = list(manifests())  # every paper, in manifest order
RESULT_SUFFIXES = (".nc", ".pdf", ".png", ".json", ".html")
START_TIMEOUT_S = 600

# Which paper's DAG is killed, and --config values that make one of its training jobs last long
# enough (seconds) to be caught in the middle; given identically to both runs. The first entry
# whose paper has rules is used.
# dimensionless_odes: three training jobs of 1-3 s CPU at tiny scale; collapse's horizon t_max is
# raised from 10 to 60 (6x the steps) so that whichever job is caught has seconds left to run.
CANDIDATES: list[tuple[str, list[str]]] = [
    ("dimensionless_odes", ['dimensionless_odes={"quick": {"collapse": {"t_max": 60}}}']),
    ("quadratic_chaos", []),
    ("heavy_tail", []),
]


def ready(paper: str) -> bool:
    return paper in PAPERS


def command(workdir: Path, paper: str, overrides: list[str], *extra: str) -> list[str]:
    # options before --config: what follows --config is read as config entries up to the next option
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--cores", "1", *extra, "--configfile", str(REPO / "config" / "test.yaml"),
            "--config", f"papers={json.dumps([paper])}", *overrides]


def result_files(results: Path) -> dict[str, int]:
    """{relative path: mtime_ns} of every finished result file."""
    return {p.relative_to(results).as_posix(): p.stat().st_mtime_ns for p in results.rglob("*")
            if p.is_file() and p.suffix in RESULT_SUFFIXES and not p.name.startswith(".")}


def temp_files(results: Path) -> list[str]:
    return sorted(p.relative_to(results).as_posix() for p in results.rglob(".*.tmp*"))


def incomplete_outputs(workdir: Path) -> set[str]:
    """Outputs Snakemake has marked as being written (its .snakemake/incomplete markers)."""
    marks = set()
    for marker in (workdir / ".snakemake" / "incomplete").rglob("*"):
        if marker.is_file():
            try:
                marks.add(base64.urlsafe_b64decode(marker.name.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                pass
    return marks


def running_training(results: Path, paper: str) -> list[str]:
    """Experiments whose training job has started (log line of core.entry) and not yet written its output."""
    running = []
    for log in (results / paper / "logs").glob("*.log"):
        try:
            first = log.read_text().split("\n", 1)[0]
        except OSError:
            continue
        marker = f"sgdrepro: {paper}/"
        if marker in first and " on " in first:
            experiment = first.split(marker, 1)[1].split(" on ", 1)[0]
            if not (results / paper / "data" / f"{experiment}.nc").exists():
                running.append(experiment)
    return running


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line mentions ``text`` (a job started in a new session would)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                status = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if status != "Z":
                    found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def group_alive(pgid: int) -> list[int]:
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.slow
def test_sigkill_during_training_then_rerun(tmp_path):
    chosen = next(((p, o) for p, o in CANDIDATES if ready(p)), None)
    if chosen is None:
        pytest.skip("none of the candidate papers has rules yet")
    paper, overrides = chosen
    workdir = tmp_path / "work"
    results = workdir / "results"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    cmd = command(workdir, paper, overrides)

    with open(tmp_path / "killed_run.log", "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        killed_in, before = None, None
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                finished = result_files(results) if results.exists() else {}
                running = running_training(results, paper) if results.exists() else []
                if running and any(name.endswith(".nc") for name in finished):
                    before = result_files(results)
                    # a file just renamed into place but not yet recorded as finished may be redone
                    pending = incomplete_outputs(workdir)
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed_in = running
                    before = {k: v for k, v in before.items() if f"results/{k}" not in pending}
                    break
                time.sleep(0.02)
        finally:
            if proc.poll() is None and killed_in is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log = (tmp_path / "killed_run.log").read_text()
    assert killed_in is not None, f"never caught a training job in progress (DAG ended first?):\n{log[-3000:]}"
    for _ in range(100):  # SIGKILL is asynchronous: wait for the group to be gone
        if not group_alive(proc.pid) and not processes_mentioning(str(workdir)):
            break
        time.sleep(0.05)
    assert group_alive(proc.pid) == [], "processes of the killed run survived"
    assert processes_mentioning(str(workdir)) == [], "a job of the killed run survived in another process group"
    # the job was really killed in the middle: its output is not there (atomic write)
    for experiment in killed_in:
        assert not (results / paper / "data" / f"{experiment}.nc").exists()
    assert any(name.endswith(".nc") for name in before), before

    # the same command: Snakemake refuses while the dead run's lock is there, and says what to do
    again = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if again.returncode != 0:
        text = again.stdout + again.stderr
        assert "--unlock" in text, text[-3000:]
        unlock = subprocess.run(command(workdir, paper, overrides, "--unlock"), capture_output=True, text=True, env=env)
        assert unlock.returncode == 0, (unlock.stdout + unlock.stderr)[-3000:]
        again = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert again.returncode == 0, (again.stdout + again.stderr)[-5000:]

    # the DAG is complete: nothing left to do
    dry = subprocess.run(command(workdir, paper, overrides, "-n", "--quiet", "rules"),
                         capture_output=True, text=True, env=env)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]

    after = result_files(results)
    for experiment in killed_in:
        assert f"{paper}/data/{experiment}.nc" in after
    assert "report.html" in after and f"{paper}/claims.json" in after
    # finished outputs were kept, not recomputed
    changed = sorted(name for name, mtime in before.items() if after.get(name) != mtime)
    assert changed == [], f"outputs finished before the kill were rewritten: {changed}"
    # nothing half-written
    assert temp_files(results) == []
    import xarray as xr

    for nc in sorted(results.rglob("*.nc")):
        with xr.open_dataset(nc, engine="netcdf4") as ds:
            ds.load()
            assert ds.data_vars, nc
    for claims in results.rglob("claims.json"):
        json.loads(claims.read_text())
