"""Bad input stops the workflow before any job, with one line naming the key, the value and what is allowed.

Two layers:

- most cases call :func:`sgdrepro.core.config.validate_config` directly on the config as ``load_config`` assembles it
  (as Snakemake would have loaded it) with one thing broken (fast);
- a handful run ``snakemake -n`` on the repository's Snakefile in a scratch directory with the
  bad value given through ``--config`` exactly as a user would type it, and check the exit
  status, the message and that nothing was written under results/.

Paper-specific cases are generated from the papers' sections (config/<paper>.yaml) as they
stand (every numeric leaf given as a word, every grid emptied, every step size zero and
negative, every batch size above the data size, every real data set at paper scale without
its directory), so the catalogue grows with the papers.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sgdrepro.core.manifest import manifests
import yaml

from sgdrepro.core.config import load_config

from sgdrepro.core.config import ConfigError, deep_merge, validate_config
from sgdrepro.core.datasets import DatasetMissing

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = load_config(REPO / "config")
PAPERS = list(manifests())  # every paper, in manifest order
MESSAGE = re.compile(r"config key '(?P<key>[^']+)' = (?P<rest>.*)")

# names of config keys by meaning (the papers' own spellings, as found in config.yaml)
STEP_SIZE_KEYS = {"lr", "lrs", "eta", "etas", "step_size", "step_sizes", "learning_rate", "lr_large", "lr_small",
                  "lr_init", "lr_initial", "gamma", "eta_large", "eta_small", "lr_over_p", "gamma0"}
PAPER_STEP_SIZE_KEYS = {"quadratic_chaos": {"a"}}  # a = step size x target scale (the map's only parameter)
BATCH_KEYS = {"batch_size", "batch_sizes", "b"}
# experiments whose mini-batches are drawn with replacement, where batch_size > n is meaningful
# (large_step_sparse.diagonal documents batch_size >= n as full-batch GD)
WITH_REPLACEMENT = {("large_step_sparse", "diagonal_sgd"), ("large_step_sparse", "diagonal_gd")}
DATA_SIZE_KEYS = ("n", "n_samples", "n_train", "n_data", "n_points")
REAL_DATASETS = {"mnist", "cifar10", "cifar100", "tiny_imagenet"}


def active_papers() -> list[str]:
    """Papers whose quick section is filled in (the others are still being written)."""
    return [p for p in PAPERS if isinstance(CONFIG.get(p), dict) and CONFIG[p].get("quick")]


def _set(config: dict, path: tuple, value) -> None:
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def check_message(text: str, key: str, value: str) -> re.Match:
    """``text`` holds one line naming ``key`` (or an element of it), ``value`` and what is allowed."""
    lines = [line for line in text.splitlines() if "config key '" in line]
    assert lines, f"no 'config key ...' line in:\n{text[-3000:]}"
    match = MESSAGE.search(lines[-1])
    assert match, f"not of the form \"config key 'K' = V: allowed\": {lines[-1]!r}"
    assert match["key"] == key or match["key"].startswith(key + "[") or match["key"].startswith(key + "."), (
        f"message names key {match['key']!r}, expected {key!r}: {lines[-1]!r}")
    rest = match["rest"]
    assert rest.startswith((value + ": ", value + ";")), (
        f"message does not show the value {value}: {lines[-1]!r}")
    allowed = rest[len(value) + 1:].strip()
    assert len(allowed) >= 8, f"message does not say what is allowed: {lines[-1]!r}"
    return match


def validate(config: dict, tmp_path: Path) -> None:
    validate_config(config, SCHEMA, results_dir=str(tmp_path / "results"))


def expect_error(config: dict, tmp_path: Path, key: str, value: str) -> str:
    with pytest.raises((ConfigError, DatasetMissing)) as info:
        validate(config, tmp_path)
    text = str(info.value)
    assert "\n" not in text, f"message is not one line: {text!r}"
    check_message(text, key, value)
    assert not (tmp_path / "results").exists(), "validation created the results directory"
    return text


# ---------------------------------------------------------------- the good configs pass


def test_default_config_is_valid(tmp_path):
    config = copy.deepcopy(CONFIG)
    config["papers"] = active_papers()
    validate(config, tmp_path)


def test_tiny_test_config_is_valid(tmp_path):
    config = deep_merge(CONFIG, yaml.safe_load((REPO / "config" / "test.yaml").read_text()))
    config["papers"] = active_papers()
    validate(config, tmp_path)


def test_command_line_strings_are_read_as_the_schema_types(tmp_path):
    """Snakemake keeps nested --config values as strings ('0.1'); validation converts them."""
    config = copy.deepcopy(CONFIG)
    config["resources"] = {"train": {"threads": "2", "mem_mb": "4000", "runtime": "60", "gpu": "0"},
                           "light": {"threads": "1", "mem_mb": "2000", "runtime": "10"},
                           "rules": {"some_rule": {"runtime": "5"}}}
    config["datasets_dir"] = "123"  # a string where a string is allowed stays a string
    validate(config, tmp_path)
    assert config["resources"]["train"] == {"threads": 2, "mem_mb": 4000, "runtime": 60, "gpu": 0}
    assert config["resources"]["rules"]["some_rule"]["runtime"] == 5
    assert config["datasets_dir"] == "123"


# ---------------------------------------------------------------- global keys

# (id, change to config.yaml, key named in the message, value as printed)
GLOBAL_CASES = [
    ("unknown_paper", {"papers": ["heavy_tial"]}, "papers[0]", "'heavy_tial'"),
    ("papers_not_a_list", {"papers": "heavy_tail"}, "papers", "'heavy_tail'"),
    ("papers_repeated", {"papers": ["heavy_tail", "heavy_tail"]}, "papers", '["heavy_tail", "heavy_tail"]'),
    ("typo_top_level_key", {"scael": "paper"}, "scael", "'paper'"),
    ("scale_unknown", {"scale": "foo"}, "scale", "'foo'"),
    ("scale_empty", {"scale": None}, "scale", "null"),
    ("device_unknown", {"device": "tpu"}, "device", "'tpu'"),
    ("dtype_unknown", {"dtype": "float16"}, "dtype", "'float16'"),
    ("numerics_unknown", {"numerics": "fast"}, "numerics", "'fast'"),
    ("root_seed_negative", {"root_seed": -1}, "root_seed", "-1"),
    ("root_seed_word", {"root_seed": "abc"}, "root_seed", "'abc'"),
    ("root_seed_fraction", {"root_seed": 1.5}, "root_seed", "1.5"),
    ("datasets_dir_number", {"datasets_dir": 5}, "datasets_dir", "5"),
    ("threads_zero", {"resources": {"train": {"threads": 0}}}, "resources.train.threads", "0"),
    ("threads_word_from_cli", {"resources": {"train": {"threads": "two"}}}, "resources.train.threads", "'two'"),
    ("mem_too_small", {"resources": {"light": {"mem_mb": 10}}}, "resources.light.mem_mb", "10"),
    ("typo_resource_kind", {"resources": {"trian": {"threads": 2}}}, "resources.trian", '{"threads": 2}'),
    ("typo_resource_field", {"resources": {"train": {"thread": 2}}}, "resources.train.thread", "2"),
    ("rule_override_typo", {"resources": {"rules": {"heavy_tail_fig1": {"mem": 100}}}},
     "resources.rules.heavy_tail_fig1.mem", "100"),
    ("nan_from_cli", {"resources": {"train": {"runtime": float("nan")}}}, "resources.train.runtime", "NaN"),
    ("typo_paper_section", {"heavy_tial": {"quick": {}}}, "heavy_tial", '{"quick": {}}'),
    ("unknown_scale_block", {"heavy_tail": {"medium": {}}}, "heavy_tail.medium", "{}"),
    ("unknown_experiment", {"heavy_tail": {"quick": {"no_such_experiment": {}}}},
     "heavy_tail.quick.no_such_experiment", "{}"),
]


@pytest.mark.parametrize("change,key,value", [c[1:] for c in GLOBAL_CASES], ids=[c[0] for c in GLOBAL_CASES])
def test_bad_global_value(tmp_path, change, key, value):
    expect_error(deep_merge(CONFIG, change), tmp_path, key, value)


def test_missing_required_key(tmp_path):
    config = copy.deepcopy(CONFIG)
    del config["scale"]
    text = expect_error(config, tmp_path, "scale", "null")
    assert "required" in text


def test_device_cuda_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: device=cuda is valid")
    text = expect_error(deep_merge(CONFIG, {"device": "cuda"}), tmp_path, "device", "'cuda'")
    assert "CUDA is not available" in text


def test_results_dir_is_a_file(tmp_path):
    (tmp_path / "results").write_text("not a directory")
    with pytest.raises(ConfigError) as info:
        validate(copy.deepcopy(CONFIG), tmp_path)
    check_message(str(info.value), "results_dir", repr(str(tmp_path / "results")))
    assert "not a directory" in str(info.value)


def make_unwritable(directory: Path, request) -> str:
    """Make ``directory`` refuse new files, even to root; return how (or skip)."""
    directory.mkdir(exist_ok=True)
    directory.chmod(0o555)
    request.addfinalizer(lambda: directory.chmod(0o755))
    if not _can_create_in(directory):
        return "chmod 555"
    # root ignores permission bits; an immutable directory refuses root too
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(directory)], capture_output=True).returncode == 0:
        request.addfinalizer(lambda: subprocess.run([chattr, "-i", str(directory)], capture_output=True))
        if not _can_create_in(directory):
            return "chattr +i"
        subprocess.run([chattr, "-i", str(directory)], capture_output=True)
    # last resort: results/ as a link to a directory of a read-only pseudo file system
    for target in ("/sys", "/proc"):
        if Path(target).is_dir() and not _can_create_in(Path(target)):
            directory.chmod(0o755)
            directory.rmdir()
            directory.symlink_to(target, target_is_directory=True)
            return f"symlink to {target}"
    pytest.skip("cannot make a directory unwritable here (root without chattr or a read-only file system)")


def _can_create_in(directory: Path) -> bool:
    probe = directory / ".can-i-write"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


def test_results_dir_unwritable(tmp_path, request):
    how = make_unwritable(tmp_path / "results", request)
    with pytest.raises(ConfigError) as info:
        validate(copy.deepcopy(CONFIG), tmp_path)
    check_message(str(info.value), "results_dir", repr(str(tmp_path / "results")))
    assert "writable" in str(info.value), how


def test_results_dir_parent_unwritable(tmp_path, request):
    """results/ does not exist yet and cannot be created."""
    workdir = tmp_path / "work"
    how = make_unwritable(workdir, request)
    if how.startswith("symlink"):
        pytest.skip("only a pseudo file system is unwritable here")
    with pytest.raises(ConfigError) as info:
        validate_config(copy.deepcopy(CONFIG), SCHEMA, results_dir=str(workdir / "results"))
    check_message(str(info.value), "results_dir", repr(str(workdir / "results")))
    assert "not writable" in str(info.value)


# ---------------------------------------------------------------- paper sections, generated from config.yaml


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, node


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value) -> list:
    return [v for v in (value if isinstance(value, list) else [value]) if _is_number(v)]


def paper_cases() -> list:
    """(id, path, bad value, key, value as printed) for the paper sections present in config.yaml.

    A sample, not every leaf (each case costs a validation): per experiment of the quick scale,
    its first numeric setting given as a word and its first grid emptied; every step size zero
    and negative; every batch size one above its data set (or above any data set).
    """
    cases = []
    for paper in active_papers():
        section = CONFIG[paper]["quick"]
        for experiment, block in section.items():
            leaves = list(_leaves(block, (experiment,))) if isinstance(block, dict) else [((experiment,), block)]
            numeric = [path for path, value in leaves if _is_number(value)]
            grids = [path for path, value in leaves if isinstance(value, list) and value and all(map(_is_number, value))]
            if numeric:
                full = (paper, "quick", *numeric[0])
                cases.append((f"{_dotted(full)}=word", full, "abc", _dotted(full), "'abc'"))
                # a typo in a key name (two letters swapped) is an unknown key, whatever its value
                name = str(numeric[0][-1])
                typo = name[:-2] + name[-1] + name[-2] if len(name) > 2 and name[-1] != name[-2] else name + "s"
                typo_path = (*full[:-1], typo)
                value = _get(CONFIG, full)
                cases.append((f"{_dotted(typo_path)}(typo)", typo_path, value, _dotted(typo_path), json.dumps(value)))
            if grids:
                full = (paper, "quick", *grids[0])
                cases.append((f"{_dotted(full)}=[]", full, [], _dotted(full), "[]"))
                cases.append((f"{_dotted(full)}=[...,word]", full, _last(grids[0], block, "abc"), _dotted(full), "'abc'"))
            for path, value in leaves:
                full, name = (paper, "quick", *path), str(path[-1])
                if (name in STEP_SIZE_KEYS or name in PAPER_STEP_SIZE_KEYS.get(paper, ())) and _numbers(value):
                    for bad in (0, -0.1):
                        new = [*value[:-1], bad] if isinstance(value, list) else bad
                        cases.append((f"{_dotted(full)}={bad}", full, new, _dotted(full), json.dumps(bad)))
                if name in BATCH_KEYS and _numbers(value) and (paper, experiment) not in WITH_REPLACEMENT:
                    n = _data_size(section, path)
                    if n is not None:
                        new = [*value[:-1], n + 1] if isinstance(value, list) else n + 1
                        cases.append((f"{_dotted(full)}=n+1", full, new, _dotted(full), str(n + 1)))
    return cases


def _get(config: dict, path: tuple):
    node = config
    for part in path:
        node = node[part]
    return node


def _last(path: tuple, block: dict, bad) -> list:
    """The list at ``path`` (relative to the experiment) with its last item replaced by ``bad``."""
    node = block
    for part in path[1:]:
        node = node[part]
    return [*node[:-1], bad]


def _data_size(section: dict, path: tuple):
    """Training points of the experiment holding ``path``: a data-size key beside it or above it,
    or, for an experiment on a named data set, more than any data set here has (10^7)."""
    for depth in range(len(path) - 1, -1, -1):
        node = section
        for part in path[:depth]:
            node = node[part]
        for key in DATA_SIZE_KEYS:
            if _is_number(node.get(key)):
                return int(node[key])
        if isinstance(node.get("dataset"), str):
            return 10**7 - 1
    return None


PAPER_CASES = paper_cases()


@pytest.mark.skipif(not PAPER_CASES, reason="no paper section is filled in config/<paper>.yaml yet")
@pytest.mark.parametrize("path,value,key,shown", [c[1:] for c in PAPER_CASES] or [((), None, "", "")],
                         ids=[c[0] for c in PAPER_CASES] or ["none"])
def test_bad_paper_value(tmp_path, path, value, key, shown):
    config = only_paper(path[0], scale=path[1])
    config["datasets_dir"] = str(_fake_datasets(tmp_path))
    _set(config, path, value)
    expect_error(config, tmp_path, key, shown)


def only_paper(paper: str, scale: str = "quick") -> dict:
    """config.yaml with ``paper`` active and the other papers' sections left out (faster to validate)."""
    config = {k: copy.deepcopy(v) for k, v in CONFIG.items() if k not in PAPERS or k == paper}
    config.update(scale=scale, papers=[paper])
    return config


def _fake_datasets(tmp_path: Path) -> Path:
    """A datasets_dir holding (empty) files of every real data set, so paper scale gets past the data check."""
    from sgdrepro.core.datasets import expected_files

    root = tmp_path / "datasets"
    for name in REAL_DATASETS:
        for rel in expected_files(name):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).touch()
    return root


def real_data_papers() -> list[str]:
    """Papers whose paper scale names MNIST or CIFAR-10 somewhere in their section."""
    found = []
    for paper in active_papers():
        section = CONFIG[paper].get("paper") or {}
        if any(isinstance(v, str) and v.lower().replace("-", "") in REAL_DATASETS for _, v in _leaves(section)):
            found.append(paper)
    return found


@pytest.mark.skipif(not real_data_papers(), reason="no paper's paper scale uses MNIST/CIFAR-10 (yet)")
@pytest.mark.parametrize("paper", real_data_papers() or ["none"])
@pytest.mark.parametrize("layout", ["missing_dir", "empty_dir"])
def test_real_data_without_dataset_dir(tmp_path, paper, layout):
    datasets = tmp_path / "no_datasets"
    if layout == "empty_dir":
        datasets.mkdir()
    config = only_paper(paper, scale="paper")
    config["datasets_dir"] = str(datasets)
    text = expect_error(config, tmp_path, "datasets_dir", repr(str(datasets)))
    assert "mnist" in text.lower() or "cifar" in text.lower()


@pytest.mark.skipif(not real_data_papers(), reason="no paper's paper scale uses MNIST/CIFAR-10 (yet)")
@pytest.mark.parametrize("paper", real_data_papers() or ["none"])
def test_real_data_with_dataset_files_passes(tmp_path, paper):
    """Positive control for the case above: with the files present, paper scale validates."""
    config = only_paper(paper, scale="paper")
    config["datasets_dir"] = str(_fake_datasets(tmp_path))
    validate(config, tmp_path)


def test_catalogue_is_large_enough():
    assert len(GLOBAL_CASES) + len(PAPER_CASES) + 6 >= 25


# ---------------------------------------------------------------- through snakemake, as a user types it


def snakemake_dry_run(workdir: Path, *config: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "-n",
           "--cores", "1", "--config", *config]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})


def result_files(workdir: Path) -> list[Path]:
    results = workdir / "results"
    if results.is_symlink():
        return []
    return [p for p in results.rglob("*") if p.is_file()] if results.exists() else []


def _nested_step_size_case():
    """A negative step size of the first paper that has one, as a nested --config value."""
    for paper in active_papers():
        for path, value in _leaves(CONFIG[paper]["quick"]):
            if str(path[-1]) in STEP_SIZE_KEYS and _numbers(value):
                bad = [-0.1] if isinstance(value, list) else -0.1
                override = bad
                for part in reversed(("quick", *path)):
                    override = {part: override}
                return paper, f"{paper}={json.dumps(override)}", _dotted((paper, "quick", *path)), "-0.1"
    return None


CLI_CASES = [
    ("scale_unknown", ["scale=foo"], "scale", "'foo'"),
    ("papers_string", ["papers=heavy_tail"], "papers", "'heavy_tail'"),
    ("resource_typo_nested", ['resources={"train": {"threds": 2}}'], "resources.train.threds", "'2'"),
]


@pytest.mark.slow
@pytest.mark.parametrize("config,key,value", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_value_stops_snakemake(tmp_path, config, key, value):
    result = snakemake_dry_run(tmp_path, *config)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "sgdrepro config error" in out, out[-3000:]
    check_message(out, key, value)
    assert "Traceback" not in out, out[-3000:]
    assert result_files(tmp_path) == []


@pytest.mark.slow
def test_cli_device_cuda_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: device=cuda is valid")
    result = snakemake_dry_run(tmp_path, "device=cuda")
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "sgdrepro config error" in out, out[-3000:]
    check_message(out, "device", "'cuda'")
    assert result_files(tmp_path) == []


@pytest.mark.slow
def test_cli_unwritable_results_dir(tmp_path, request):
    how = make_unwritable(tmp_path / "results", request)
    result = snakemake_dry_run(tmp_path, "scale=quick")
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "sgdrepro config error" in out, (how, out[-3000:])
    check_message(out, "results_dir", repr(str(tmp_path / "results")))
    assert result_files(tmp_path) == []


@pytest.mark.slow
def test_cli_nested_paper_value(tmp_path):
    """A negative step size inside a paper section, given as a nested --config value."""
    case = _nested_step_size_case()
    if case is None:
        pytest.skip("no paper has a step size key in config.yaml yet")
    paper, override, key, value = case
    result = snakemake_dry_run(tmp_path, f'papers=["{paper}"]', override)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "sgdrepro config error" in out, out[-3000:]
    check_message(out, key, value)
    assert result_files(tmp_path) == []


@pytest.mark.slow
def test_cli_good_nested_value_passes(tmp_path):
    """Positive control: a valid nested override (numbers arrive as strings) passes the dry run."""
    result = snakemake_dry_run(tmp_path, 'resources={"train": {"threads": 1, "runtime": 30}}')
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "sgdrepro config error" not in result.stdout + result.stderr
    assert result_files(tmp_path) == []


def test_network_batch_larger_than_training_set_is_rejected():
    config = deep_merge(CONFIG, {"heavy_tail": {"quick": {"mlp": {"grid": {"batch_size": [1, 10_000_000]}}}}})
    with pytest.raises(ConfigError, match=r"heavy_tail\.quick\.mlp\.grid\.batch_size\[1\]' = 10000000: must be <= the digits training set size"):
        validate_config(config, SCHEMA)


def test_deep_merge_is_snakemakes_overlay_merge_and_copies():
    base = {"a": {"b": 1, "c": [1]}, "d": 2}
    out = deep_merge(base, {"a": {"b": 3}, "d": {"e": 1}})
    assert out == {"a": {"b": 3, "c": [1]}, "d": {"e": 1}}  # nested merged, the rest replaced
    out["a"]["c"].append(2)
    assert base == {"a": {"b": 1, "c": [1]}, "d": 2}  # neither input shares state with the result
