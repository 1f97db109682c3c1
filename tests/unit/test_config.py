"""Config validation: every bad config is refused before any job, naming the key and the fix."""

import copy

import pytest
import yaml

from fmagenre.config import ConfigError, validate_config


@pytest.fixture()
def default_config(repo_root):
    """config/config.yaml with empty sections where it leaves everything to the schema."""
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    for section in ("validation", "features", "splits", "training", "figures"):
        config.setdefault(section, {})
    return config


def _problem(config) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    return str(caught.value)


def test_default_config_is_valid_and_defaults_are_filled(default_config):
    config = validate_config(copy.deepcopy(default_config))
    assert config["features"]["n_mfcc"] == 20
    assert config["training"]["device"] == "auto"
    assert set(config["optimise"]["models"]) <= set(config["models"])


def test_unknown_key_is_named_with_a_suggestion(default_config):
    default_config["features"]["n_mfc"] = 13
    message = _problem(default_config)
    assert "features.n_mfc" in message and "did you mean 'n_mfcc'" in message


def test_unknown_top_level_key(default_config):
    default_config["featurez"] = {}
    assert "'featurez' is unknown" in _problem(default_config)


def test_wrong_type_names_key_and_expected_type(default_config):
    default_config["features"]["hop_length"] = "512"
    message = _problem(default_config)
    assert "features.hop_length" in message and "integer" in message


def test_unknown_architecture(default_config):
    name = next(iter(default_config["models"]))
    default_config["models"][name]["arch"] = "resnet9000"
    message = _problem(default_config)
    assert f"models.{name}.arch" in message and "resnet9000" in message


def test_genre_list_naming_an_absent_genre(default_config):
    default_config["splits"]["keep_genres"] = ["Rock", "Jaz"]
    message = _problem(default_config)
    assert "splits.keep_genres" in message and "'Jaz'" in message


def test_baseline_genre_must_exist(default_config):
    default_config["figures"] = {"baseline_genre": "Polka"}
    message = _problem(default_config)
    assert (
        "figures.baseline_genre" in message and "Electronic" in message
    )  # names the genres present


def test_baseline_genre_defaults_to_null_meaning_the_largest_genre(default_config):
    assert validate_config(default_config)["figures"]["baseline_genre"] is None


def test_real_fma_excerpt_validates_without_a_baseline_genre(default_config, repo_root):
    excerpt = repo_root / "tests" / "data" / "fma_excerpt"
    default_config["dataset"] = {
        "metadata_dir": str(excerpt),
        "audio_dir": str(excerpt),
        "synthetic": {"enabled": False},
    }
    assert validate_config(default_config)["figures"]["baseline_genre"] is None


def test_missing_data_paths_for_real_data(default_config, tmp_path):
    default_config["dataset"] = {
        "metadata_dir": str(tmp_path / "nowhere" / "fma_metadata"),
        "audio_dir": str(tmp_path / "nowhere" / "fma_small"),
        "synthetic": {"enabled": False},
    }
    message = _problem(default_config)
    assert "dataset.metadata_dir" in message and "dataset.audio_dir" in message
    assert "7z" in message


def test_optimised_model_must_be_configured(default_config):
    default_config["optimise"]["models"] = ["nonexistent"]
    assert "optimise.models" in _problem(default_config)


@pytest.mark.parametrize("key", ["models", "temporal_model"])
def test_evolution_models_must_be_configured(default_config, key):
    default_config["evolution"][key] = ["nonexistent"] if key == "models" else "nonexistent"
    message = _problem(default_config)
    assert f"evolution.{key}" in message and "nonexistent" in message and "vgg_mel" in message


def test_evolution_defaults_live_in_the_schema(default_config):
    config = copy.deepcopy(default_config)
    # the embedded default sets fewer folds for its time budget; the defaults are the schema's
    assert config["evolution"].pop("folds") == 3
    evolution = validate_config(config)["evolution"]
    assert (evolution["folds"], evolution["scores"], evolution["period_years"]) == (
        5,
        "crossfit",
        3,
    )
    assert (evolution["min_tracks"], evolution["min_artists"], evolution["bootstrap"]) == (
        8,
        3,
        1000,
    )
    assert evolution["year_source"] == "released" and evolution["permutations"] >= 999
    assert (
        validate_config(copy.deepcopy(default_config))["dataset"]["synthetic"]["drift_scale"] == 1.0
    )


def test_all_problems_are_reported_at_once(default_config):
    default_config["features"]["n_mfc"] = 13
    default_config["validation"]["min_seconds"] = "long"
    message = _problem(default_config)
    assert "features.n_mfc" in message and "validation.min_seconds" in message
