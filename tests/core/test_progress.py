"""Progress a user can follow: a training job's log gets a line every ``progress_seconds`` with
runs and steps done, the rate, the elapsed and estimated time left, and the runs diverged so far."""

from __future__ import annotations

import re

import numpy as np

from sgdrepro.core import run_keys, train_batched
from sgdrepro.core.entry import job_logging
from sgdrepro.core.trainer import Progress, progress_every

LINE = re.compile(r"progress: runs (\d+)/(\d+) done, chunk of (\d+) at step (\d+)/(\d+), .* "
                  r"elapsed (\d+:\d\d:\d\d), left ~(\d+:\d\d:\d\d|\?), diverged (\d+), init ([\d.]+) s")


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_line_counts_work_rate_and_time_left():
    clock = FakeClock()
    progress = Progress(n_runs=100, n_steps=1000, every=30.0, clock=clock)
    assert not progress.due()
    progress.chunk_done(40, diverged=3)  # first chunk of 40 runs done
    clock.now += 60.0  # ... and 60 runs of the next chunk are at step 250 after 60 s
    assert progress.due()
    line = progress.line(chunk_runs=60, steps_done=250, diverged_now=2)
    # work done: 40 * 1000 + 60 * 250 = 55,000 of 100,000 run-steps in 60 s; 45,000 left at 916.7/s = 49 s
    assert line.startswith("runs 40/100 done, chunk of 60 at step 250/1000")
    assert "55.0% of 1e+05 run-steps" in line and "917 run-steps/s" in line
    assert "elapsed 0:01:00, left ~0:00:49, diverged 5, init 0.0 s" in line


def test_a_long_init_does_not_inflate_the_first_estimate():
    clock = FakeClock()
    progress = Progress(n_runs=10, n_steps=100, every=30.0, clock=clock)
    clock.now += 300.0  # init of the first chunk: 5 minutes
    progress.chunk_started(300.0)
    clock.now += 10.0  # then 10 of 100 steps in 10 s: 90 s left for this chunk, not 45 min
    assert "left ~0:01:30, diverged 0, init 300.0 s" in progress.line(10, 10, 0)


def test_progress_is_not_due_again_until_the_interval_has_passed():
    clock = FakeClock()
    progress = Progress(n_runs=1, n_steps=10, every=30.0, clock=clock)
    clock.now += 31.0
    progress.report(1, 5, 0)
    clock.now += 29.0
    assert not progress.due()
    clock.now += 2.0
    assert progress.due()


def _blow_up_half():
    """Runs with lr > 1 on x <- x (1 + lr) grow until the trainer freezes them as diverged."""

    def init(chunk):
        return {"x": 1.0 + 0.0 * chunk.params["lr"]}

    def step(state, k, chunk):
        return {"x": state["x"] * (1.0 + chunk.params["lr"]) ** 40}

    def observe(state, k, chunk):
        return {"x": state["x"]}

    return init, step, observe


def test_training_writes_progress_lines_to_the_job_log(tmp_path):
    log = tmp_path / "train.log"
    lr = np.array([0.5, 2.0, 0.1, 3.0])
    with job_logging(str(log)), progress_every(0.0):  # a line after every step
        train_batched(*_blow_up_half(), 20, np.array([20]), {"lr": lr}, run_keys("demo", [{"i": i} for i in range(4)]),
                      chunk_size=2)
    lines = [LINE.search(text) for text in log.read_text().splitlines() if "progress:" in text]
    assert len(lines) == 40  # 2 chunks x 20 steps
    steps = [int(m.group(4)) for m in lines]
    assert steps == list(range(1, 21)) * 2
    assert {int(m.group(1)) for m in lines} == {0, 2}  # runs done before each chunk
    # lr 2 (chunk 1) and 3 (chunk 2) overflow: 3^40 = 1.2e19 per step passes 1e150 at step 8
    assert int(lines[-1].group(8)) == 2 and int(lines[19].group(8)) == 1
    assert "trained 2 runs (2-3) of 4; runs 4/4 done, 100.0% of 80 run-steps" in log.read_text()


def test_tiny_dag_training_logs_show_progress(tiny_results):
    """Every training job of the tiny DAG that goes through the batched trainer logs its chunks'
    progress, and the tiny config's 1-second interval makes the longer ones log while they run."""
    logs = sorted(tiny_results.glob("*/logs/train_*.log"))
    assert logs
    chunked = [p for p in logs if "run-steps/s" in p.read_text()]
    assert len(chunked) >= len(logs) // 2
    assert any(LINE.search(p.read_text()) for p in logs)


def test_loops_outside_the_trainer_log_progress_too(tmp_path):
    from sgdrepro.core.trainer import with_progress

    clock = FakeClock()
    log = tmp_path / "ode.log"
    seen = []
    with job_logging(str(log)), progress_every(30.0):
        for item in with_progress(range(10), 10, "ODE solves", clock=clock):
            clock.now += 20.0  # each item takes 20 s: a line after items 2, 4, 6, 8 and 10 (every >= 30 s)
            seen.append(item)
    lines = [text for text in log.read_text().splitlines() if "progress: ODE solves" in text]
    assert seen == list(range(10))
    assert len(lines) == 5
    assert "ODE solves 2/10 done, elapsed 0:00:40, left ~0:02:40" in lines[0]
    assert "10/10 done" in lines[-1]
