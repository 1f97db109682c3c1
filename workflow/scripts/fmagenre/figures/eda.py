"""Exploratory figures: how genres overlap, how the splits and years are filled, how genres sound on average.

The metadata figures reproduce the seed paper's Fig. 1 (genre cross-correlation) and Fig. 2 (genres per
track); the audio figures its Fig. 3/4/13 (mean mel spectrogram per genre and the difference of every
genre against a baseline genre), with one shared colour scale so that panels can be compared by eye.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from tqdm import tqdm

from fmagenre.data.validate import STATUSES
from fmagenre.features.manifest import read_manifests, with_features
from fmagenre.features.store import read_features
from fmagenre.figures.common import plt, save_figure
from fmagenre.io import read_tsv
from fmagenre.librosa_cache import librosa

log = logging.getLogger("fmagenre.figures.eda")

SPLIT_ORDER = ("training", "validation", "test")
DIFF_PERCENTILE = (
    99.0  # the shared difference scale ignores the 1 % most extreme pixels (noise-floor bands)
)
PANEL_COLUMNS = 4


# ---- metadata --------------------------------------------------------------------------------------


def genre_indicator(genres_all_top: pd.Series) -> pd.DataFrame:
    """Multi-hot [tracks, top-level genres] from ``|``-joined titles (columns sorted by title)."""
    lists = (
        genres_all_top.fillna("").astype(str).map(lambda text: [g for g in text.split("|") if g])
    )
    titles = sorted({g for genres in lists for g in genres})
    matrix = np.zeros((len(lists), len(titles)), dtype=np.int64)
    column = {title: i for i, title in enumerate(titles)}
    for row, genres in enumerate(lists):
        matrix[row, [column[g] for g in genres]] = 1
    return pd.DataFrame(matrix, index=genres_all_top.index, columns=titles)


def cooccurrence(indicator: pd.DataFrame) -> pd.DataFrame:
    """Tracks carrying both genres (diagonal: tracks carrying the genre)."""
    return indicator.T @ indicator


def genre_correlation(indicator: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation of the genre indicators (the paper's cross-correlation); 0 where undefined."""
    return indicator.astype(float).corr().fillna(0.0)


def count_genres_per_track(table: pd.DataFrame, subset_genres) -> pd.DataFrame:
    """Tracks by number of genres: all ``genres_all`` ids vs the subset's top-level genres (paper's Fig. 2)."""
    all_genres = (
        table["genres_all"]
        .fillna("[]")
        .map(lambda text: len([g for g in str(text).strip("[]").split(",") if g.strip()]))
    )
    subset = set(subset_genres)
    top = (
        table["genres_all_top"]
        .fillna("")
        .astype(str)
        .map(lambda text: len({g for g in text.split("|") if g in subset}))
    )
    counts = pd.DataFrame(
        {
            "all genres (incl. sub-genres)": all_genres.value_counts(),
            "subset's top-level genres": top.value_counts(),
        }
    )
    return counts.reindex(range(int(counts.index.max()) + 1), fill_value=0).fillna(0).astype(int)


def _annotate(ax, values: np.ndarray, threshold: float) -> None:
    for (row, col), value in np.ndenumerate(values):
        ax.text(
            col,
            row,
            f"{value:g}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > threshold else "black",
        )


def plot_cooccurrence(table: pd.DataFrame, path) -> None:
    indicator = genre_indicator(table["genres_all_top"])
    counts = cooccurrence(indicator)
    corr = genre_correlation(indicator)
    n = len(counts)
    size = max(5.0, 0.45 * n + 3)
    fig, (ax_count, ax_corr) = plt.subplots(
        1, 2, figsize=(2 * size + 2, size), constrained_layout=True
    )
    image = ax_count.imshow(counts.to_numpy(), cmap="viridis")
    fig.colorbar(
        image,
        ax=ax_count,
        label="tracks carrying both genres",
        shrink=0.8,
        ticks=MaxNLocator(integer=True),
    )
    ax_count.set_title("Co-occurrence (tracks)")
    image = ax_corr.imshow(corr.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    fig.colorbar(image, ax=ax_corr, label="Pearson correlation of genre indicators", shrink=0.8)
    ax_corr.set_title("Cross-correlation")
    if n <= 20:
        _annotate(ax_count, counts.to_numpy(), counts.to_numpy().max() / 2)
        _annotate(ax_corr, corr.round(2).to_numpy(), 0.6)
    for ax in (ax_count, ax_corr):
        ax.set_xticks(range(n), counts.columns, rotation=60, ha="right")
        ax.set_yticks(range(n), counts.index)
        ax.set_xlabel("top-level genre")
        ax.set_ylabel("top-level genre")
    fig.suptitle(f"Top-level genres co-occurring in genres_all ({len(table)} tracks)")
    save_figure(fig, path)


def plot_genres_per_track(table: pd.DataFrame, subset_genres, path) -> None:
    counts = count_genres_per_track(table, subset_genres)
    fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    width = 0.4
    colours = {
        "subset's top-level genres": "tab:blue",
        "all genres (incl. sub-genres)": "tab:orange",
    }
    for offset, (name, colour) in zip((-width / 2, width / 2), colours.items()):
        bars = ax.bar(counts.index + offset, counts[name], width, label=name, color=colour)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(counts.index)
    ax.set_xlabel("genres per track")
    ax.set_ylabel("tracks")
    ax.legend()
    ax.set_title(
        f"Number of genres per track ({len(table)} tracks, {len(set(subset_genres))} subset genres)"
    )
    save_figure(fig, path)


def plot_tracks_per_split(tracks: pd.DataFrame, path) -> None:
    counts = pd.crosstab(tracks["genre_top"], tracks["split"]).reindex(
        columns=list(SPLIT_ORDER), fill_value=0
    )
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.45 * len(counts) + 1.5)), constrained_layout=True)
    left = np.zeros(len(counts))
    for split in SPLIT_ORDER:
        bars = ax.barh(counts.index, counts[split], left=left, label=split)
        ax.bar_label(
            bars,
            labels=[str(v) if v else "" for v in counts[split]],
            label_type="center",
            fontsize=7,
        )
        left += counts[split].to_numpy()
    ax.invert_yaxis()
    ax.set_xlabel("tracks")
    ax.set_ylabel("genre (genre_top)")
    ax.legend(title="split", loc="upper left", bbox_to_anchor=(1.01, 1))
    totals = ", ".join(f"{s} {int(counts[s].sum())}" for s in SPLIT_ORDER)
    ax.set_title(f"Validated tracks per genre and split ({totals})")
    save_figure(fig, path)


def plot_tracks_per_year(tracks: pd.DataFrame, path) -> None:
    known = tracks.dropna(subset=["year"])
    genres = sorted(tracks["genre_top"].unique())
    fig, ax = plt.subplots(
        figsize=(10, max(3.0, 0.45 * len(genres) + 1.5)), constrained_layout=True
    )
    title = (
        f"Validated tracks per release year and genre ({len(tracks) - len(known)} without a year)"
    )
    if known.empty:
        ax.text(0.5, 0.5, "no track has a year", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        save_figure(fig, path)
        return
    years = known["year"].astype(int)
    span = range(int(years.min()), int(years.max()) + 1)
    counts = pd.crosstab(known["genre_top"], years).reindex(
        index=genres, columns=span, fill_value=0
    )
    shown = np.ma.masked_equal(counts.to_numpy(), 0)
    image = ax.imshow(
        shown,
        aspect="auto",
        cmap="viridis",
        interpolation="nearest",
        extent=(span.start - 0.5, span.stop - 0.5, len(genres) - 0.5, -0.5),
    )
    fig.colorbar(image, ax=ax, label="tracks (blank: none)", ticks=MaxNLocator(integer=True))
    ax.set_yticks(range(len(genres)), genres)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("year (album release, else track creation)")
    ax.set_ylabel("genre (genre_top)")
    ax.set_title(title)
    save_figure(fig, path)


def metadata_figures(table_tsv, splits_tsv, genres_tsv, outputs: dict) -> None:
    """Write the four metadata figures; ``outputs`` maps the figure names to their paths."""
    table = read_tsv(table_tsv, dtype={"folder": str})
    tracks = read_tsv(splits_tsv, dtype={"folder": str})
    tracks = tracks[tracks["label"] >= 0]  # per genre_top: the multi-label-only tracks have none
    genres = read_tsv(genres_tsv)
    plot_cooccurrence(table, outputs["genre_cooccurrence"])
    plot_genres_per_track(table, genres["genre"], outputs["genres_per_track"])
    plot_tracks_per_split(tracks, outputs["tracks_per_split"])
    plot_tracks_per_year(tracks, outputs["tracks_per_year"])


# ---- audio -----------------------------------------------------------------------------------------


def genre_mean_mel(
    tracks: pd.DataFrame, manifest: pd.DataFrame, features_dir, frames: int | None = None
):
    """Mean dB mel spectrogram per genre over ``tracks``, read one HDF5 file at a time.

    Every track is cropped to ``frames`` (default: the median track length); a shorter track adds only
    to the frames it has (per-frame counts), so padding never pulls the mean towards a fill value.
    Returns ``(means, info)``: genre -> [n_mels, frames] float64 (NaN where no track reaches), and the
    feature parameters (``sr``, ``hop_length``, ``n_mels``, ``fmin``, ``frames``, ``tracks`` per genre).
    """
    rows = with_features(tracks, manifest, "the mel figures")
    frames = int(frames or rows["frames"].median())
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    info: dict = {}
    pairs = zip(rows["genre_top"], rows["h5"])
    for genre, h5 in tqdm(pairs, total=len(rows), desc="mean mel", unit="track", mininterval=5):
        stored, attrs = read_features(
            Path(features_dir) / h5, ("mel",), frames, with_attrs=not info
        )
        db = stored["mel"].astype(np.float64)  # stored in dB, the models' units
        if not info:
            info = {key: attrs[key] for key in ("sr", "hop_length", "n_mels", "fmin")}
        sums.setdefault(genre, np.zeros((db.shape[0], frames)))[:, : db.shape[1]] += db
        counts.setdefault(genre, np.zeros(frames))[: db.shape[1]] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        means = {g: np.where(counts[g] > 0, sums[g] / counts[g], np.nan) for g in sorted(sums)}
    info.update(frames=frames, tracks=rows["genre_top"].value_counts().to_dict())
    return means, info


def choose_baseline(baseline: str | None, tracks_per_genre: dict) -> str:
    """The configured baseline genre, or (``None``) the genre with the most training tracks.

    An explicit genre without training tracks is an error naming the genres present, so that a real
    FMA subset lacking the default's genre never stops a run when the user set nothing.
    """
    if baseline is None:
        chosen = max(sorted(tracks_per_genre), key=lambda genre: tracks_per_genre[genre])
        log.info(
            "figures.baseline_genre is null: using %s, the genre with the most training tracks "
            "(%d)",
            chosen,
            tracks_per_genre[chosen],
        )
        return chosen
    return baseline


def mel_differences(means: dict, baseline: str) -> dict:
    """Every genre's mean minus the baseline genre's (dB); the baseline's own image is zero."""
    if baseline not in means:
        raise ValueError(
            f"baseline genre {baseline!r} has no training tracks; genres with tracks: "
            f"{', '.join(means)}. Fix: set figures.baseline_genre to one of them"
        )
    return {genre: mean - means[baseline] for genre, mean in means.items()}


def symmetric_limit(images) -> float:
    """One colour limit for all difference panels: the 99th percentile of |difference| over all of them."""
    values = np.abs(np.concatenate([np.ravel(image) for image in images]))
    values = values[np.isfinite(values)]
    limit = float(np.percentile(values, DIFF_PERCENTILE)) if values.size else 0.0
    return limit if limit > 0 else 1.0


def _mel_panels(images: dict, info: dict, title: str, colour_label: str, **imshow):
    """A grid of genre panels sharing one colour scale (``imshow`` keywords) and one colour bar."""
    n = len(images)
    cols = min(PANEL_COLUMNS, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(3.6 * cols + 1.2, 3.0 * rows + 0.8),
        squeeze=False,
        sharex=True,
        sharey=True,
        constrained_layout=True,
    )
    seconds = info["frames"] * info["hop_length"] / info["sr"]
    n_mels = int(info["n_mels"])
    centres = librosa.mel_frequencies(n_mels + 2, fmin=float(info["fmin"]), fmax=info["sr"] / 2)[
        1:-1
    ]
    ticks = np.linspace(0, n_mels - 1, 6).round().astype(int)
    for ax, (genre, image) in zip(axes.flat, images.items()):
        shown = ax.imshow(
            image,
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            extent=(0, seconds, -0.5, n_mels - 0.5),
            **imshow,
        )
        ax.set_title(f"{genre} (n={info['tracks'].get(genre, 0)})", fontsize=10)
        ax.set_yticks(ticks, [f"{centres[t]:.0f}" for t in ticks])
        ax.set_xlabel("time (s)")
        ax.set_ylabel("mel band centre (Hz)")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.colorbar(shown, ax=axes.ravel().tolist(), label=colour_label, shrink=0.9)
    fig.suptitle(title)
    return fig


def plot_mean_mel(means: dict, info: dict, path) -> None:
    values = np.concatenate([np.ravel(m) for m in means.values()])
    low, high = np.nanpercentile(values, [1, 99.9])
    fig = _mel_panels(
        means,
        info,
        f"Mean mel spectrogram per genre (training split, "
        f"{sum(info['tracks'].values())} tracks, first {info['frames']} frames)",
        "mean power (dB)",
        cmap="magma",
        vmin=low,
        vmax=high,
    )
    save_figure(fig, path)


def plot_mel_difference(differences: dict, baseline: str, info: dict, path) -> None:
    """Every genre but the baseline, on one symmetric scale centred on zero (red: louder than baseline)."""
    shown = {g: d for g, d in differences.items() if g != baseline} or differences
    limit = symmetric_limit(shown.values())
    fig = _mel_panels(
        shown,
        info,
        f"Mean mel spectrogram minus {baseline}'s (training split; shared scale ±{limit:.1f} dB)",
        f"difference to {baseline} (dB)",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
    )
    save_figure(fig, path)


def mel_figures(
    splits_tsv, manifest_tsvs, features_dir, baseline: str | None, outputs: dict
) -> None:
    """Write ``mean_mel`` and ``mel_difference`` from the training split's per-track HDF5 files
    (``baseline`` None: the genre with the most training tracks)."""
    tracks = read_tsv(splits_tsv, dtype={"folder": str})
    training = tracks.loc[
        (tracks["split"] == "training") & (tracks["label"] >= 0), ["track_id", "genre_top"]
    ]
    if training.empty:
        raise ValueError(f"{splits_tsv}: no track in the training split; the mel figures need some")
    means, info = genre_mean_mel(training, read_manifests(manifest_tsvs), features_dir)
    baseline = choose_baseline(baseline, info["tracks"])
    differences = mel_differences(means, baseline)
    log.info("mean mel of %d genres over %d frames", len(means), info["frames"])
    plot_mean_mel(means, info, outputs["mean_mel"])
    plot_mel_difference(differences, baseline, info, outputs["mel_difference"])


# ---- data ------------------------------------------------------------------------------------------


def plot_validation_status(report: pd.DataFrame, path) -> None:
    """Tracks per validation status, so that a reader sees at a glance how many clips were dropped."""
    counts = report["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    bars = ax.bar(
        counts.index, counts.to_numpy(), color=["tab:green"] + ["tab:red"] * (len(counts) - 1)
    )
    ax.bar_label(bars)
    ax.set_xlabel("validation status")
    ax.set_ylabel("tracks")
    ax.set_title(f"Clip validation: {counts['ok']} of {len(report)} tracks usable")
    save_figure(fig, path)


def validation_status_figure(report_tsv, path) -> None:
    """The Data section's summary of ``results/validation/report.tsv`` (the table itself is wrapped by
    rule validation_report)."""
    plot_validation_status(read_tsv(report_tsv), path)
