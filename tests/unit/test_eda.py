"""EDA figures on small hand-built metadata and splits, and per-track files of the feature store."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from fmagenre.features.extract import FeatureParams
from fmagenre.features.store import write_track
from fmagenre.figures import eda
from fmagenre.io import write_tsv

ATTRS = {"sr": 22050, "hop_length": 512, "n_mels": 8, "fmin": 0.0}
PARAMS = FeatureParams(n_mels=ATTRS["n_mels"], dtype="float32")
# Four tracks: genres_all ids and their top-level titles as the track table writes them.
TABLE = pd.DataFrame(
    {
        "track_id": [1, 2, 3, 4],
        "folder": ["000"] * 4,
        "genre_top": ["Rock", "Pop", "Rock", ""],
        "genres_all": ["[12, 25]", "[10]", "[12, 10, 76]", "[]"],
        "genres_all_top": ["Rock", "Pop", "Pop|Rock|Experimental", ""],
        "split": ["training", "training", "test", ""],
        "year": [2008, 2010, np.nan, 2009],
    }
)


@pytest.fixture
def saved(monkeypatch):
    """Capture the figures passed to save_figure (they are still saved) to check their text."""
    figures = {}
    real = eda.save_figure

    def keep(fig, path):
        figures[str(path)] = {
            "title": fig._suptitle.get_text() if fig._suptitle else "",
            "axes": [
                (
                    ax.get_title(),
                    ax.get_xlabel(),
                    ax.get_ylabel(),
                    ax.get_label(),
                    [img.norm for img in ax.get_images()],
                )
                for ax in fig.axes
                if ax.get_visible()
            ],
            "bars": {
                label.get_text(): patch.get_height()
                for ax in fig.axes[:1]
                for label, patch in zip(ax.get_xticklabels(), ax.patches)
            },
        }
        real(fig, path)

    monkeypatch.setattr(eda, "save_figure", keep)
    return figures


def test_cooccurrence_counts_and_symmetry():
    indicator = eda.genre_indicator(TABLE["genres_all_top"])
    assert list(indicator.columns) == ["Experimental", "Pop", "Rock"]
    assert indicator.loc[3].sum() == 0  # a track without genres has an all-zero row
    counts = eda.cooccurrence(indicator)
    assert (counts.to_numpy() == counts.to_numpy().T).all()
    assert counts.loc["Rock", "Rock"] == 2 and counts.loc["Pop", "Pop"] == 2
    assert counts.loc["Pop", "Rock"] == 1 and counts.loc["Experimental", "Rock"] == 1
    corr = eda.genre_correlation(indicator)
    assert np.allclose(corr.to_numpy(), corr.to_numpy().T)
    assert np.allclose(np.diag(corr), 1.0)


def test_genres_per_track_all_vs_subset():
    counts = eda.count_genres_per_track(TABLE, ["Rock", "Pop"])
    assert list(counts.index) == [0, 1, 2, 3]
    assert counts["all genres (incl. sub-genres)"].tolist() == [1, 1, 1, 1]
    # Track 3 has three top-level genres, of which two are in the subset.
    assert counts["subset's top-level genres"].tolist() == [1, 2, 1, 0]


def _mel_inputs(tmp_path, frames_per_track):
    """Per-track files of the feature store whose mel is a known constant per genre (given as power,
    stored in dB by the store's writer), and the manifest; genre "" is a track without a genre_top (label -1, as the splits
    keep them for multi-label models)."""
    db = {"Electronic": 0.0, "Rock": 10.0, "Pop": 20.0, "": 30.0}
    labels = {"Electronic": 0, "Pop": 1, "Rock": 2}
    rows, manifest = [], []
    for track_id, (genre, frames) in enumerate(frames_per_track, start=1):
        h5 = f"000/{track_id:06d}.h5"
        features = {name: np.zeros((n, frames)) for name, n in PARAMS.bands().items()}
        features["mel"] = np.full((ATTRS["n_mels"], frames), 10 ** (db[genre] / 10))
        write_track(tmp_path / h5, features, {**PARAMS.attrs(), "frames": frames}, PARAMS)
        rows.append({"track_id": track_id, "genre_top": genre, "label": labels.get(genre, -1)})
        manifest.append({"track_id": track_id, "h5": h5, "frames": frames})
    return pd.DataFrame(rows), pd.DataFrame(manifest)


def test_mean_mel_crops_and_averages_only_frames_a_track_has(tmp_path):
    tracks, manifest = _mel_inputs(
        tmp_path, [("Electronic", 10), ("Electronic", 10), ("Rock", 12), ("Rock", 6), ("Pop", 10)]
    )
    means, info = eda.genre_mean_mel(tracks, manifest, tmp_path)
    assert info["frames"] == 10 and info["n_mels"] == 8 and info["tracks"]["Rock"] == 2
    assert sorted(means) == ["Electronic", "Pop", "Rock"]
    assert means["Rock"].shape == (8, 10)
    # 10 dB everywhere: the 6-frame Rock track is not padded with a fill value that would lower frames 6-9.
    assert np.allclose(means["Rock"], 10.0) and np.allclose(means["Pop"], 20.0)
    differences = eda.mel_differences(means, "Electronic")
    assert np.array_equal(differences["Electronic"], np.zeros((8, 10)))
    assert np.allclose(differences["Pop"], 20.0)
    with pytest.raises(ValueError, match="figures.baseline_genre"):
        eda.mel_differences(means, "Jazz")


def test_mean_mel_names_tracks_without_features(tmp_path):
    tracks, manifest = _mel_inputs(tmp_path, [("Electronic", 10)])
    tracks.loc[1] = {"track_id": 99, "genre_top": "Rock"}
    with pytest.raises(ValueError, match=r"\[99\].*extract_folder"):
        eda.genre_mean_mel(tracks, manifest, tmp_path)


def test_difference_panels_share_one_symmetric_scale(tmp_path, saved):
    means = {
        "Electronic": np.zeros((8, 10)),
        "Pop": np.full((8, 10), 3.0),
        "Rock": np.full((8, 10), -6.0),
    }
    info = {**ATTRS, "frames": 10, "tracks": {"Electronic": 1, "Pop": 1, "Rock": 1}}
    path = tmp_path / "diff.png"
    eda.plot_mel_difference(eda.mel_differences(means, "Electronic"), "Electronic", info, path)
    assert plt.imread(path).ndim == 3  # a PNG that decodes
    panels = [axes for axes in saved[str(path)]["axes"] if axes[3] != "<colorbar>"]
    assert [p[0] for p in panels] == ["Pop (n=1)", "Rock (n=1)"]  # the baseline has no panel
    norms = {(n.vmin, n.vmax) for p in panels for n in p[4]}
    assert norms == {(-6.0, 6.0)}
    assert all(p[1] == "time (s)" and p[2] == "mel band centre (Hz)" for p in panels)
    assert "Electronic" in saved[str(path)]["title"]
    assert (
        eda.symmetric_limit([np.zeros(3)]) == 1.0
    )  # an all-zero difference still gets a usable scale


def test_mel_figures_from_files(tmp_path, saved):
    tracks, manifest = _mel_inputs(
        tmp_path, [("Electronic", 10), ("Rock", 10), ("Pop", 10), ("Pop", 10), ("", 10)]
    )
    tracks["split"] = ["training", "training", "training", "test", "training"]
    write_tsv(tmp_path / "splits.tsv", tracks)
    write_tsv(tmp_path / "000" / "manifest.tsv", manifest)
    outputs = {
        "mean_mel": tmp_path / "mean_mel.svg",
        "mel_difference": tmp_path / "mel_difference.pdf",
    }
    eda.mel_figures(
        tmp_path / "splits.tsv", [tmp_path / "000" / "manifest.tsv"], tmp_path, "Rock", outputs
    )
    assert outputs["mean_mel"].read_text().startswith("<?xml")
    assert outputs["mel_difference"].read_bytes().startswith(b"%PDF")
    mean = saved[str(outputs["mean_mel"])]
    assert "1 tracks" not in mean["title"] and "3 tracks" in mean["title"]  # training split only
    colourbars = [axes for axes in mean["axes"] if axes[3] == "<colorbar>"]
    assert len(colourbars) == 1
    with pytest.raises(ValueError, match="Fix: set figures.baseline_genre"):
        eda.mel_figures(
            tmp_path / "splits.tsv", [tmp_path / "000" / "manifest.tsv"], tmp_path, "Jazz", outputs
        )


def test_metadata_figures_are_written_with_titles_and_labels(tmp_path, saved):
    splits = TABLE[TABLE["split"] != ""].assign(label=[1, 0, 1])
    genres = pd.DataFrame({"label": [0, 1], "genre": ["Pop", "Rock"], "slug": ["Pop", "Rock"]})
    write_tsv(tmp_path / "tracks.tsv", TABLE)
    write_tsv(tmp_path / "splits.tsv", splits)
    write_tsv(tmp_path / "genres.tsv", genres)
    outputs = {
        name: tmp_path / f"{name}.png"
        for name in (
            "genre_cooccurrence",
            "genres_per_track",
            "tracks_per_split",
            "tracks_per_year",
        )
    }
    eda.metadata_figures(
        tmp_path / "tracks.tsv", tmp_path / "splits.tsv", tmp_path / "genres.tsv", outputs
    )
    for name, path in outputs.items():
        assert path.read_bytes().startswith(b"\x89PNG"), name
        figure = saved[str(path)]
        assert figure["title"] or all(
            axes[0] for axes in figure["axes"] if axes[3] != "<colorbar>"
        ), name
    assert "1 without a year" in saved[str(outputs["tracks_per_year"])]["axes"][0][0]
    assert "training 2" in saved[str(outputs["tracks_per_split"])]["axes"][0][0]


def test_validation_status_counts_every_status(tmp_path, saved):
    report = pd.DataFrame(
        {"track_id": [1, 2, 3], "status": ["ok", "short", "ok"], "reason": ["", "2 s", ""]}
    )
    write_tsv(tmp_path / "report.tsv", report)
    path = tmp_path / "status.png"
    eda.validation_status_figure(tmp_path / "report.tsv", path)
    assert path.read_bytes().startswith(b"\x89PNG")
    title, xlabel, ylabel = saved[str(path)]["axes"][0][:3]
    assert (title, xlabel, ylabel) == (
        "Clip validation: 2 of 3 tracks usable",
        "validation status",
        "tracks",
    )
    assert saved[str(path)]["bars"] == {
        "ok": 2,
        "short": 1,
        "silent": 0,
        "undecodable": 0,
        "missing": 0,
    }


def test_null_baseline_is_the_genre_with_most_training_tracks(tmp_path, saved):
    tracks, manifest = _mel_inputs(tmp_path, [("Electronic", 10), ("Rock", 10), ("Rock", 10)])
    tracks["split"] = "training"
    tracks["label"] = [0, 1, 1]
    write_tsv(tmp_path / "splits.tsv", tracks)
    write_tsv(tmp_path / "000" / "manifest.tsv", manifest)
    outputs = {"mean_mel": tmp_path / "mean_mel.png", "mel_difference": tmp_path / "diff.png"}
    eda.mel_figures(
        tmp_path / "splits.tsv", [tmp_path / "000" / "manifest.tsv"], tmp_path, None, outputs
    )
    assert "minus Rock's" in saved[str(outputs["mel_difference"])]["title"]
    assert (
        eda.choose_baseline(None, {"Pop": 3, "Jazz": 3, "Rock": 1}) == "Jazz"
    )  # ties: alphabetical
    assert eda.choose_baseline("Pop", {"Rock": 1}) == "Pop"  # explicit: checked by mel_differences
