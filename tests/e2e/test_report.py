"""End-to-end: `snakemake --report` on the finished tiny run holds every section, figure and audio file."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from runner import snakemake

from fmagenre.figures.report_check import report_contents, report_entry
from fmagenre.io import read_tsv

CATEGORIES = {"Data", "Exploration", "Models", "Input optimisation", "Audio", "Evolution"}
EDA = [
    "genre_cooccurrence",
    "genres_per_track",
    "tracks_per_split",
    "tracks_per_year",
    "mean_mel",
    "mel_difference",
]
FIGURE_SUFFIXES = {".png", ".svg", ".pdf"}


@pytest.fixture(scope="module")
def report_html(workflow_run, tmp_path_factory) -> Path:
    html = tmp_path_factory.mktemp("report") / "report.html"
    snakemake(workflow_run, "--report", str(html))
    return html


@pytest.fixture(scope="module")
def report(report_html):
    return report_contents(report_html)


def _files(run, folder, suffixes):
    return sorted(
        str(p.relative_to(run)) for p in (run / folder).rglob("*") if p.suffix in suffixes
    )


def test_report_has_the_six_categories(report):
    assert set(report["categories"]) == CATEGORIES


def test_evolution_section_lists_the_verdicts(report):
    evolution = report["categories"]["Evolution"]
    assert "results/evolution/vgg_mel/trends.tsv" in evolution["Verdicts"]
    assert "results/evolution/li2010/temporal_generalisation.tsv" in {
        p for ps in evolution.values() for p in ps
    }


def test_every_figure_of_the_run_is_in_the_report(workflow_run, report):
    figures = _files(workflow_run, "results", FIGURE_SUFFIXES)
    assert {f"results/figures/eda/{name}.png" for name in EDA} <= set(figures)
    assert any(path.startswith("results/models/") for path in figures)
    assert any(path.startswith("results/figures/optimise/") for path in figures)
    # seed replicates' own curves stay in results/ (the comparison figure shows their spread)
    figures = [path for path in figures if "/replicates/" not in path]
    assert sorted(set(figures) - set(report["figures"])) == []
    exploration = {path for paths in report["categories"]["Exploration"].values() for path in paths}
    assert {f"results/figures/eda/{name}.png" for name in EDA} <= exploration


def test_every_wav_has_an_mp3_copy_on_the_models_listening_page(workflow_run, report):
    # the round-trip clips of every start (results/audio/{model}/starts/, for the judge) are not
    # the listened audio: they have no MP3 copy and no player
    wavs = [w for w in _files(workflow_run, "results/audio", {".wav"}) if "/starts/" not in w]
    assert wavs, "the run made no audio"
    assert _files(workflow_run, "results/audio", {".mp3"}) == [
        w.replace(".wav", ".mp3") for w in wavs
    ]
    pages = sorted({str(Path(w).parent / "listen.html") for w in wavs})
    in_section = sorted(
        path
        for paths in report["categories"]["Audio"].values()
        for path in paths
        if path.endswith("listen.html")
    )
    assert in_section == pages


def test_report_stays_small(report_html):
    assert report_html.stat().st_size < 20e6


def _chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        reason = "no chromium on PATH (apt-get install -y chromium)"
        if os.environ.get("FMAGENRE_REQUIRE_CHROMIUM") == "1":  # CI: .ci/run installs it
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def _rendered(html: Path, script: str = "") -> str:
    """The DOM of ``html`` after Chromium ran its scripts (plus ``script`` at the end of the body)."""
    page = html
    if script:
        page = html.with_name(html.stem + ".probe.html")
        page.write_text(
            html.read_text(encoding="utf-8").replace(
                "</body>", f"<script>{script}</script></body>"
            ),
            encoding="utf-8",
        )
    result = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--autoplay-policy=no-user-gesture-required",
            "--virtual-time-budget=15000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_rendered_front_page_shows_every_verdict_and_a_player_works(
    workflow_run, report_html, tmp_path
):
    gaps = {
        path.parent.name: read_tsv(path)
        for path in (workflow_run / "results/optimise").glob("*/gap.tsv")
    }
    text = re.sub(r"<[^>]+>", " ", _rendered(report_html))
    for model, gap in gaps.items():
        for row in gap.itertuples():
            assert re.search(rf"{re.escape(row.genre)}:\s*{row.verdict}", text), (model, row.genre)
    trends = {
        path.parent.name: read_tsv(path)
        for path in (workflow_run / "results/evolution").glob("*/trends.tsv")
    }
    assert trends
    for model, table in trends.items():  # the evolution verdicts: the count, then each one found
        found = table[table["verdict"] != "no evidence"]
        count = rf"{re.escape(model)}\s*:\s*{len(found)} of {len(table)} genre x measure trends"
        assert re.search(count, text), (model, len(found))
        for row in found.itertuples():
            verdict = rf"{re.escape(row.genre)} / {row.measure}:\s*{row.verdict}"
            assert re.search(verdict, text), (model, row.genre, row.measure)
    # the listening page as the report embeds it, rendered: its first player loads the MP3
    model = min(gaps)
    entry = report_entry(report_html, f"results/audio/{model}/listen.html")
    header, data = entry["data_uri"].split(",", 1)
    page = tmp_path / "listen.html"
    page.write_bytes(
        base64.b64decode(data)
        if header.endswith(";base64")
        else urllib.parse.unquote(data).encode()
    )
    probe = (
        "const a = document.querySelector('audio');"
        "a.addEventListener('loadedmetadata', () => document.body.setAttribute('data-duration', a.duration));"
        "a.addEventListener('error', () => document.body.setAttribute('data-error', a.error.code)); a.load();"
    )
    played = _rendered(page, probe)
    duration = re.search(r'data-duration="([0-9.]+)"', played)
    assert duration and float(duration.group(1)) > 1.0, played[:500]


def test_data_section_holds_validation_and_genre_tables(report):
    data = {path for paths in report["categories"]["Data"].values() for path in paths}
    assert {
        "results/validation/report.tsv",
        "results/splits/genres.tsv",
        "results/figures/data/validation_status.png",
    } <= data


def test_every_entry_has_a_caption(report):
    assert [path for path, caption in report["captions"].items() if not caption.strip()] == []
