"""Config defaults live in the schema only: nothing else writes one again with another value."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from fmagenre.config import schema_defaults


def _repeats(config: dict, defaults: dict, path: str = ""):
    for key, value in config.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            yield from _repeats(value, defaults[key], where)
        elif key in defaults and defaults[key] == value:
            yield where


def test_embedded_config_sets_nothing_to_its_schema_default(repo_root):
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    defaults = schema_defaults()
    repeats = list(_repeats(config, defaults))
    # a model's keys fall back to the training section: setting one to that default repeats it too
    for name, spec in config.get("models", {}).items():
        repeats += [f"models.{name}.{key}" for key in _repeats(spec, defaults["training"])]
    assert not repeats, f"config/config.yaml repeats schema defaults (remove them): {repeats}"


def test_repeat_detection_can_fail():
    assert list(_repeats({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}})) == ["a.b"]


def _dataclasses_with_config_sections():
    """Package dataclasses built from one config section (a ``from_config`` classmethod)."""
    import importlib
    import pkgutil

    import fmagenre

    found = []
    for module_info in pkgutil.walk_packages(fmagenre.__path__, "fmagenre."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
                and hasattr(value, "from_config")
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("cls", _dataclasses_with_config_sections(), ids=lambda c: c.__name__)
def test_dataclass_defaults_agree_with_the_schema(cls):
    defaults = schema_defaults()
    sections = [s for s in defaults.values() if isinstance(s, dict)]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    # the section is the one holding every field name
    matching = [s for s in sections if set(fields) <= set(s)]
    assert matching, f"{cls.__name__}: no config section holds all of {sorted(fields)}"
    section = matching[0]
    for name, field in fields.items():
        if field.default is not dataclasses.MISSING:
            value = list(field.default) if isinstance(field.default, tuple) else field.default
            assert value == section[name], (
                f"{cls.__name__}.{name}: {value!r} vs schema {section[name]!r}"
            )


def test_generator_defaults_agree_with_the_schema():
    """generate()'s keyword defaults (used by tests and the CLI's callers) equal dataset.synthetic's."""
    import inspect

    from fmagenre.config import synthetic_defaults
    from fmagenre.data.synth import generate

    schema = synthetic_defaults()
    parameters = inspect.signature(generate).parameters
    shared = [name for name in parameters if name in schema]
    assert len(shared) >= 6
    for name in shared:
        assert parameters[name].default == schema[name], f"generate({name}=...) vs the schema"
