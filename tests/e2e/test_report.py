"""End-to-end: `snakemake --report` on the finished tiny run holds every section, figure and audio file."""

from __future__ import annotations

import pytest

from fmagenre.figures.report_check import report_contents
from runner import snakemake

CATEGORIES = {"Data", "Exploration", "Models", "Input optimisation", "Audio", "Evolution"}
EDA = ["genre_cooccurrence", "genres_per_track", "tracks_per_split", "tracks_per_year", "mean_mel",
       "mel_difference"]
FIGURE_SUFFIXES = {".png", ".svg", ".pdf"}


@pytest.fixture(scope="module")
def report(workflow_run, tmp_path_factory):
    html = tmp_path_factory.mktemp("report") / "report.html"
    snakemake(workflow_run, "--report", str(html))
    return report_contents(html)


def _files(run, folder, suffixes):
    return sorted(str(p.relative_to(run)) for p in (run / folder).rglob("*") if p.suffix in suffixes)


def test_report_has_the_six_categories(report):
    assert set(report["categories"]) == CATEGORIES


def test_evolution_section_lists_the_verdicts(report):
    evolution = report["categories"]["Evolution"]
    assert "results/evolution/vgg_mel/trends.tsv" in evolution["Verdicts"]
    assert "results/evolution/li2010/temporal_generalisation.tsv" in {p for ps in evolution.values() for p in ps}


def test_every_figure_of_the_run_is_in_the_report(workflow_run, report):
    figures = _files(workflow_run, "results", FIGURE_SUFFIXES)
    assert {f"results/figures/eda/{name}.png" for name in EDA} <= set(figures)
    assert any(path.startswith("results/models/") for path in figures)
    assert any(path.startswith("results/figures/optimise/") for path in figures)
    assert sorted(set(figures) - set(report["figures"])) == []
    exploration = {path for paths in report["categories"]["Exploration"].values() for path in paths}
    assert {f"results/figures/eda/{name}.png" for name in EDA} <= exploration


def test_every_audio_file_is_in_the_audio_section(workflow_run, report):
    audio = _files(workflow_run, "results/audio", {".wav"})
    assert audio, "the run made no audio"
    assert report["audio"] == audio
    in_section = sorted(
        path for paths in report["categories"]["Audio"].values() for path in paths if path.endswith(".wav")
    )
    assert in_section == audio


def test_data_section_holds_validation_and_genre_tables(report):
    data = {path for paths in report["categories"]["Data"].values() for path in paths}
    assert {"results/validation/report.tsv", "results/splits/genres.tsv",
            "results/figures/data/validation_status.png"} <= data


def test_every_entry_has_a_caption(report):
    assert [path for path, caption in report["captions"].items() if not caption.strip()] == []
