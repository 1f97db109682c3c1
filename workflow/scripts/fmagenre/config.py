"""Config validation: JSON schema (types, unknown keys, defaults) plus checks a schema cannot express.

Called from ``rules/common.smk`` at parse time, so a bad config stops the run before any job starts,
with a message that names the key and says how to fix it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config problem; the message names the key and the fix."""


def load_schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place, fill schema defaults, run the semantic checks; return it.

    Raises :class:`ConfigError` listing every problem found (not just the first).
    """
    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    problems = [_describe(error) for error in validator.iter_errors(config)]
    if problems:
        raise ConfigError(_report(problems))
    _fill_defaults(config, schema)
    problems = semantic_problems(config)
    if problems:
        raise ConfigError(_report(problems))
    return config


def _report(problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in sorted(set(problems)))
    return f"invalid config ({len(set(problems))} problem(s)):\n{lines}"


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = [name for name in error.instance if name not in allowed]
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
            where = f"{key}.{name}" if error.absolute_path else name
            hints.append(f"config key '{where}' is unknown; {hint} Fix: remove or rename it.")
        return " ".join(hints)
    if error.validator == "enum":
        return (
            f"config key '{key}' is {error.instance!r}; it must be one of "
            f"{', '.join(map(repr, error.validator_value))}. Fix: pick one of those."
        )
    if error.validator == "type":
        return (
            f"config key '{key}' is {error.instance!r} ({type(error.instance).__name__}); "
            f"expected {error.validator_value}. Fix: give a value of that type."
        )
    if error.validator == "required":
        return f"config key '{key}' lacks {error.message.split(' ')[0]}. Fix: add it."
    return f"config key '{key}': {error.message}. Fix: see workflow/schemas/config.schema.yaml."


def _fill_defaults(instance, schema: dict) -> None:
    """Set every missing property that has a ``default`` in the schema, recursively."""
    if not isinstance(instance, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        if name not in instance and "default" in sub:
            instance[name] = _copy(sub["default"])
        if name in instance:
            _fill_defaults(instance[name], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for name, value in instance.items():
            if name not in schema.get("properties", {}):
                _fill_defaults(value, extra)


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value))


def known_genres(config: dict) -> list[str] | None:
    """Top-level genre titles the configured dataset has, or None when they cannot be known yet."""
    dataset = config["dataset"]
    if dataset["synthetic"]["enabled"]:
        from fmagenre.data.synth import preset_genres

        return preset_genres(dataset["synthetic"]["preset"])
    genres_csv = Path(dataset["metadata_dir"]) / "genres.csv"
    if not genres_csv.is_file():
        return None
    from fmagenre.data.metadata import load_genres

    genres = load_genres(genres_csv)
    return sorted(genres.loc[genres["parent"] == 0, "title"].astype(str))


def semantic_problems(config: dict) -> list[str]:
    """Checks that need more than a schema: data paths, genre names, cross references."""
    problems: list[str] = []
    dataset = config["dataset"]
    if not dataset["synthetic"]["enabled"]:
        for key, expected in (("metadata_dir", "tracks.csv"), ("audio_dir", None)):
            path = Path(dataset[key])
            target = path / expected if expected else path
            if not target.exists():
                problems.append(
                    f"config key 'dataset.{key}' points to '{path}', but '{target}' does not exist. "
                    "Fix: download and unzip the FMA archives (7z x fma_metadata.zip) and set "
                    f"dataset.{key} to that folder, or set dataset.synthetic.enabled: true."
                )
    genres = known_genres(config) if not problems else None
    if genres is not None:
        for key in ("keep_genres", "drop_genres"):
            for name in config["splits"][key]:
                if name not in genres:
                    close = difflib.get_close_matches(name, genres, n=1)
                    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(genres)}"
                    problems.append(
                        f"config key 'splits.{key}' names genre '{name}', which the dataset does not "
                        f"have; {hint} Fix: use a top-level genre title."
                    )
        baseline = config["figures"]["baseline_genre"]
        if baseline is not None and baseline not in genres:
            problems.append(
                f"config key 'figures.baseline_genre' is '{baseline}', which the dataset does not have. "
                f"Fix: use one of {', '.join(genres)}."
            )
    named = [("optimise.models", name) for name in config["optimise"]["models"]]
    named += [("evolution.models", name) for name in config["evolution"]["models"]]
    if config["evolution"]["temporal_model"] is not None:
        named.append(("evolution.temporal_model", config["evolution"]["temporal_model"]))
    for key, name in named:
        if name not in config["models"]:
            problems.append(
                f"config key '{key}' names model '{name}', which is not under 'models'. "
                f"Fix: use one of {', '.join(config['models'])}."
            )
    return problems


def schema_defaults(schema: dict | None = None) -> dict:
    """The config a run gets from the schema alone: every ``default`` filled in, nested.

    The one source of default values: config/config.yaml, dataclasses and command-line interfaces
    take theirs from here rather than writing them again.
    """
    schema = schema or load_schema()
    config: dict = {}
    _fill_defaults(config, {"properties": {k: v for k, v in schema["properties"].items()}})
    return config


def synthetic_defaults(schema: dict | None = None) -> dict:
    """``dataset.synthetic``'s schema defaults (the section sits under the required ``dataset``, so
    :func:`schema_defaults` cannot fill it): the generator's command line takes its defaults here."""
    schema = schema or load_schema()
    section = schema["properties"]["dataset"]["properties"]["synthetic"]["properties"]
    return {name: sub["default"] for name, sub in section.items() if "default" in sub}
