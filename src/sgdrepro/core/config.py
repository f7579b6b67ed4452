"""Configuration: validation with one clear line per error, scale selection, digests.

The config tree is ``config[paper][scale][experiment]`` with the active scale chosen by
``config["scale"]``. Every section is validated against ``workflow/schemas`` before any job
runs; semantic checks that JSON Schema cannot express (a batch larger than the data, say)
live next to each paper as ``sgdrepro.<paper>.check_config(config, key_prefix)``, which reads
its section with :func:`scale_config`, the one reader of a paper's active section.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ConfigError",
    "validate_config",
    "scale_config",
    "load_config",
    "paper_config_files",
    "config_digest",
    "canonical_json",
    "check_at_most",
    "deep_merge",
]


class ConfigError(ValueError):
    """A bad configuration value; the message is one line naming key, value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"config key '{key}' = {_short(value)}: {allowed}")


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the basis of every digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(obj: Any):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def config_digest(obj: Any) -> str:
    """Short SHA-256 digest of a config section, stable across runs and machines."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:16]


def deep_merge(base: Mapping, overlay: Mapping) -> dict:
    """``base`` with ``overlay`` merged in as Snakemake merges ``--configfile`` overlays: nested
    mappings merged key by key, every other value replaced (a copy; neither input changes)."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        merge = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = deep_merge(out[key], value) if merge else copy.deepcopy(value)
    return out


def paper_config_files(config_dir: str | os.PathLike) -> list[Path]:
    """``<paper>.yaml`` in ``config_dir`` for every paper with a manifest, in manifest order: each
    holds the paper's grids at every scale (and its measured requests), beside the global config.yaml."""
    from .manifest import manifests

    files = [Path(config_dir) / f"{paper}.yaml" for paper in manifests()]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError("papers", list(manifests()), f"each paper needs its config file; missing: {', '.join(missing)}")
    return files


def load_config(config_dir: str | os.PathLike, overlays: tuple[str | os.PathLike, ...] = ()) -> dict:
    """The config as the workflow sees it: ``config.yaml``, every paper's file
    (:func:`paper_config_files`), then ``overlays`` (e.g. config/test.yaml), merged in that order,
    with the schemas' defaults (``workflow/schemas`` beside ``config_dir``) filled in. Not validated:
    :func:`validate_config` says what is wrong."""
    config = _load_yaml(Path(config_dir) / "config.yaml")
    for path in (*paper_config_files(config_dir), *overlays):
        config = deep_merge(config, _load_yaml(Path(path)) or {})
    schema = Path(config_dir).resolve().parent / "workflow" / "schemas" / "config.schema.yaml"
    for _ in _validator(schema).iter_errors(config):  # validating fills the defaults in
        pass
    return config


def scale_config(config: Mapping, paper: str) -> dict:
    """The section of ``paper`` at the active scale: the one reader of it (the workflow's
    :class:`sgdrepro.core.dag.Plan` and the benchmarks go through here)."""
    return config[paper][config["scale"]]


# ---------------------------------------------------------------- validation


def _load_yaml(path: Path) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def _validator(schema_path: Path):
    """The schema's validator, built once per schema state (edits to any schema file rebuild it)."""
    schema_path = Path(schema_path).resolve()
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in schema_path.parent.glob("*.y*ml")))
    return _build_validator(schema_path, stamp)


@lru_cache(maxsize=8)
def _build_validator(schema_path: Path, stamp: tuple):
    import jsonschema
    from referencing import Registry, Resource

    schema = assemble_schema(_load_yaml(schema_path))
    schema.setdefault("$id", schema_path.as_uri())

    def retrieve(uri: str):
        path = Path(uri.removeprefix("file://"))
        return Resource.from_contents(_load_yaml(path))

    registry = Registry(retrieve=retrieve)
    return _filling_defaults(jsonschema.Draft202012Validator)(schema, registry=registry)


def assemble_schema(schema: dict) -> dict:
    """The global schema with one section per paper (``<paper>.schema.yaml`` beside it) and the
    ``papers`` key's allowed values and default (every paper, in manifest order) from the manifests."""
    from .manifest import manifests

    papers = list(manifests())
    schema = copy.deepcopy(schema)
    for paper in papers:
        schema["properties"][paper] = {"$ref": f"{paper}.schema.yaml"}
    schema["properties"]["papers"]["items"] = {"enum": papers}
    schema["properties"]["papers"]["default"] = papers
    return schema


def _filling_defaults(validator_class):
    """``validator_class`` that also sets each missing property that has a ``default`` (in place),
    as Snakemake's ``validate(set_default=True)`` does: defaults live in the schemas, not in code.
    A default inside an ``anyOf``/``oneOf`` branch is set even when that branch does not match,
    so the schemas keep defaults out of alternatives."""
    import jsonschema

    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if isinstance(sub, dict) and "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def _key_of(error) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else ("." if parts else "") + str(part))
    return "".join(parts) or "<root>"


_TYPE_WORDS = {
    "array": "a list",
    "object": "a mapping of keys to values",
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
}


def _allowed_of(error) -> str:
    """Turn a jsonschema error into 'what is allowed', without the schema dump."""
    kind, spec = error.validator, error.validator_value
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"unknown key; allowed keys here are {', '.join(allowed)}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, spec))}"
    if kind == "type":
        kinds = [spec] if isinstance(spec, str) else list(spec)
        words = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
        hint = ""
        if "array" in kinds and isinstance(error.instance, str) and len(error.absolute_path) == 1:
            hint = f" (on the command line: --config '{error.absolute_path[0]}=[{json.dumps(error.instance)}]')"
        return f"must be {words}{hint}"
    if kind in {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}:
        sign = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[kind]
        return f"must be {sign} {spec}"
    if kind == "minItems":
        return f"must have at least {spec} item(s)" if spec > 1 else "must not be empty"
    if kind == "maxItems":
        return f"must have at most {spec} item(s)"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind == "required":
        return error.message
    if kind == "pattern":
        return f"must match {spec}"
    return error.message


def _unknown_key(error) -> str | None:
    if error.validator != "additionalProperties":
        return None
    extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
    return extra[0] if extra else None


def validate_schema(config: Mapping, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` against the schema; raise ConfigError for the most relevant error."""
    import jsonschema

    validator = _validator(Path(schema_path))
    errors = list(validator.iter_errors(config))
    if errors and isinstance(config, dict) and coerce_strings(config, validator, errors):
        errors = list(validator.iter_errors(config))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    # best_match prefers shallow errors; for anyOf/oneOf go to the deepest leaf for a precise key
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    key = _key_of(error)
    unknown = _unknown_key(error)
    if unknown is not None:
        key = f"{key}.{unknown}" if key != "<root>" else unknown
        raise ConfigError(key, error.instance[unknown], _allowed_of(error))
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        raise ConfigError(f"{key}.{missing}" if key != "<root>" else missing, None, "is required")
    raise ConfigError(key, error.instance, _allowed_of(error))


# ---------------------------------------------------------------- command-line strings

_NULL_WORDS = {"", "null", "Null", "NULL", "~"}
_BOOL_WORDS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def _parse_as(text: str, kinds: set[str]) -> tuple[bool, Any]:
    """``(True, value)`` if ``text`` reads as one of the JSON types in ``kinds``, else ``(False, None)``."""
    text = text.strip()
    if "integer" in kinds or "number" in kinds:
        try:
            return True, int(text)
        except ValueError:
            pass
    if "number" in kinds:
        try:
            return True, float(text)
        except ValueError:
            pass
    if "boolean" in kinds and text in _BOOL_WORDS:
        return True, _BOOL_WORDS[text]
    if "null" in kinds and text in _NULL_WORDS:
        return True, None
    return False, None


def _type_errors(errors):
    for error in errors:
        if error.validator == "type":
            yield error
        yield from _type_errors(error.context or [])


def coerce_strings(config: dict, validator, errors: list | None = None) -> int:
    """Turn strings where the schema wants a number, integer, boolean or null into that type, in place.

    Snakemake parses nested ``--config key={...}`` values with YAML's BaseLoader, which keeps
    every scalar a string (``lr: [0.1]`` arrives as ``['0.1']``); the schema says what each
    value should be, so a string that reads as exactly that type is converted. Anything else
    is left for validation to reject. ``errors``: the validator's errors for ``config``, if
    already at hand. Returns the number of values converted.
    """
    converted = 0
    for _ in range(100):  # each pass fixes every error visible at the current nesting depth
        wanted: dict[tuple, set[str]] = {}
        errors = validator.iter_errors(config) if errors is None else errors
        for error in _type_errors(errors):
            if isinstance(error.instance, str):
                spec = error.validator_value
                wanted.setdefault(tuple(error.absolute_path), set()).update([spec] if isinstance(spec, str) else spec)
        changed = 0
        for path, kinds in sorted(wanted.items(), key=lambda item: [str(p) for p in item[0]]):
            if not path or "string" in kinds:
                continue
            parent = config
            for part in path[:-1]:
                parent = parent[part]
            ok, value = _parse_as(parent[path[-1]], kinds)
            if ok:
                parent[path[-1]] = value
                changed += 1
        converted += changed
        errors = None
        if not changed:
            return converted
    return converted


def _check_finite(value: Any, key: str = "") -> None:
    """NaN or infinity is never a meaningful config value (and NaN slips through min/max checks)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key or "<root>", value, "must be a finite number")
    if isinstance(value, Mapping):
        for name, item in value.items():
            _check_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_finite(item, f"{key}[{i}]")


def check_at_most(value: Any, limit: float, key: str, what: str) -> None:
    """Raise unless every number in ``value`` is <= ``limit`` (``what`` names the limit)."""
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        if item > limit:
            raise ConfigError(
                key + (f"[{i}]" if isinstance(value, list) else ""), item, f"must be <= {what} ({limit})"
            )


def _check_device(device: str) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("device", device, "CUDA is not available on this machine; use auto or cpu")


def _check_results_dir(path: str) -> None:
    """The results directory (or the nearest existing parent) must accept a new file.

    Checked by creating and removing a probe file rather than with ``os.access``: root passes
    ``os.access`` on any directory, yet a read-only mount or an immutable directory refuses it.
    """
    target = Path(path).absolute()
    for candidate in (target, *target.parents):
        if candidate.exists() or candidate.is_symlink():
            break
    if not candidate.is_dir():
        what = "the results directory" if candidate == target else f"its parent {str(candidate)!r}"
        raise ConfigError("results_dir", str(target), f"must be a writable directory, but {what} is not a directory")
    try:
        handle, probe = tempfile.mkstemp(prefix=".sgdrepro-write-probe.", suffix=".tmp", dir=candidate)
    except OSError as error:
        where = "" if candidate == target else f" (it does not exist yet and its parent {str(candidate)!r} is not writable)"
        raise ConfigError(
            "results_dir", str(target), f"must be a writable directory{where}: {error.strerror or error}"
        ) from None
    os.close(handle)
    os.unlink(probe)


def validate_config(config: Mapping, schema_path: str | os.PathLike, results_dir: str = "results",
                    datasets: bool = True) -> None:
    """Schema first, then machine checks, then each active paper's semantic checks. ``datasets``:
    also check that every real data set the config names is in datasets_dir (presence only); the
    workflow passes False and checks, before any job, only the data sets its jobs read."""
    validate_schema(config, schema_path)
    _check_finite(config)
    _check_device(config["device"])
    _check_results_dir(results_dir)
    for paper in config["papers"]:
        module = importlib.import_module(f"sgdrepro.{paper}")
        checker = getattr(module, "check_config", None)
        if checker is not None:
            checker(dict(config), f"{paper}.{config['scale']}")
    if datasets:
        from .datasets import check_datasets

        check_datasets(config)
