"""Calibration of the evolution trend test, simulated at the statistics level.

Each simulated genre has artists as random effects (1-2 tracks per artist) with one release year per
artist, a planted linear drift of a given size in within-genre SDs across the whole year range, the
pipeline's period cells and eligibility rules, and the pipeline's test
(:func:`fmagenre.evolution.stats.trend_test`). Two sizes: the default synthetic data as the pipeline
sees it (64 tracks per genre of which 79 % are followed: no genre_top or no release date leaves the
rest out; 3-year periods over 2006-2017; the artists' share of the spectral centroid's variance,
0.72, measured on the default run, the larger of the two planted descriptors') and an fma_small-like
genre (1000 tracks, 1-7 tracks per artist, 5-year periods over 2008-2017). Reported per test: the
false-positive rate at alpha 0.05 over null genres (goal 0.03-0.07), the power at the default
planted drift (goal >= 0.8), the power curve over 0, 0.25, 0.5, 1, 1.5 SD and the coverage of the
true slope by the 95 % CI (goal >= 0.9). Reported per family (what the default run's end-to-end
assertion needs): over whole simulated datasets of 8 genres x 8 measures with the default planted
drift in one descriptor of each of 4 genres, Benjamini-Hochberg over the 64 tests as the pipeline
does, the share of datasets in which every planted test is called and nothing else is, per tracks
per genre (the 60 unplanted tests' p-values drawn uniform, as the per-test calibration finds them).
And the model-based ``projection`` test (:mod:`fmagenre.evolution.axis`) on simulated fold-model
embeddings (:func:`simulate_fold_embeddings`: artist effects, artist-grouped folds, each fold model
its own basis and its own shift of its held-out fold): its false-positive rate refitting the axes
under every permutation, as the pipeline does, beside a permutation that holds the positions fixed,
the coverage of the true slope 0 by both CIs on null genres, and its power at a planted drift along
one embedding direction. Writes its numbers into
results/bench.json and draws results/figures/bench/evolution_calibration.png.
Run: ``.venv/bin/python bench/bench_evolution.py``. Last line: one JSON object (bench/run_all.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from fmagenre.data.synth import _PLANTED, DRIFT_SD, YEARS  # noqa: E402
from fmagenre.evolution.axis import axis_positions  # noqa: E402
from fmagenre.evolution.cells import cell_table, eligible_tracks, period_bins  # noqa: E402
from fmagenre.evolution.stats import trend_test, verdicts  # noqa: E402
from fmagenre.evolution.tables import MEASURES  # noqa: E402
from fmagenre.figures.common import plt, save_figure  # noqa: E402
from fmagenre.io import write_json  # noqa: E402

EFFECTS = [0.0, 0.25, 0.5, 1.0, 1.5]  # planted change across the year range, within-genre SDs
FOLLOWED = 404 / 512  # followed tracks of the default run (evolution/tracks.tsv) per generated one
CENTROID_ARTIST_SHARE = 0.72  # default run: artists' share of the centroid's within-genre variance
SIZES = {
    "default": {
        "tracks": 64,
        "followed": FOLLOWED,
        "artist_share": CENTROID_ARTIST_SHARE,
        "largest_artist": 2,
        "years": YEARS,
        "period_years": 3,
        "genres": 500,
    },
    "fma_small_like": {
        "tracks": 1000,
        "followed": 1.0,
        "artist_share": CENTROID_ARTIST_SHARE,
        "largest_artist": 7,
        "years": (2008, 2017),
        "period_years": 5,
        "genres": 100,
    },
}
MIN_TRACKS, MIN_ARTISTS, N_PERM, N_BOOT, ALPHA = 8, 3, 999, 1000, 0.05
# The family: the default data's 8 genres x its measures (evolution/tables.py MEASURES), 4 planted.
FAMILY_GENRES, FAMILY_MEASURES, FAMILY_PLANTED = 8, len(MEASURES), len(_PLANTED)
FAMILY_TRACKS = [64, 128, 192]  # tracks per genre generated (FOLLOWED of them followed)
FAMILY_DATASETS, FAMILY_PERM, FAMILY_BOOT = 100, 9999, 100  # the schema's default permutations
# projection: null genres per variant, permutations, planted drifts (embedding SD across the years)
PROJECTION_GENRES, PROJECTION_PERM, PROJECTION_DRIFTS = 500, 199, [0.0, 1.5, 3.0]


def simulate_genre(rng: np.random.Generator, size: dict, effect_sd: float) -> pd.DataFrame:
    """One genre's tracks: artist effect + track scatter (total SD 1) + a linear drift over the years."""
    sizes = []
    while sum(sizes) < size["tracks"]:
        sizes.append(int(rng.integers(1, size["largest_artist"] + 1)))
    artists = np.repeat(np.arange(len(sizes)), sizes)[: size["tracks"]]
    first, last = size["years"]
    years = rng.integers(first, last + 1, len(sizes))[artists]
    share = size["artist_share"]
    value = (
        rng.normal(0, np.sqrt(share), len(sizes))[artists]
        + rng.normal(0, np.sqrt(1 - share), len(artists))
        + effect_sd * (years - first) / (last - first)
    )
    frame = pd.DataFrame({"genre": "g", "artist_id": artists, "year": years, "value": value})
    frame = frame[rng.random(len(frame)) < size["followed"]].reset_index(drop=True)
    return frame.join(period_bins(frame["year"].astype(float), size["period_years"]))


def test_genre(rng, size, effect, n_perm=N_PERM, n_boot=N_BOOT) -> dict:
    """The pipeline's trend test on one simulated genre's eligible cells."""
    tracks = simulate_genre(rng, size, effect)
    kept = tracks[eligible_tracks(tracks, cell_table(tracks, MIN_TRACKS, MIN_ARTISTS))]
    return trend_test(
        kept["value"], kept["year"], kept["artist_id"], n_perm=n_perm, n_boot=n_boot, rng=rng
    )


def run_family(rng: np.random.Generator) -> dict:
    """Share of simulated default datasets whose BH verdicts are exactly right, per genre size.

    The planted tests run the pipeline's test; the other tests' p-values are drawn uniform (floored
    at the permutation test's smallest two-sided p), which is what the per-test calibration above
    measures them to be, and far cheaper than simulating every null test of a dataset.
    """
    floor = 2 / (FAMILY_PERM + 1)
    n_null = FAMILY_GENRES * FAMILY_MEASURES - FAMILY_PLANTED
    out = {}
    for tracks in FAMILY_TRACKS:
        size = {**SIZES["default"], "tracks": tracks}
        right, planted_found = [], []
        for _ in range(FAMILY_DATASETS):
            planted = [
                test_genre(rng, size, DRIFT_SD, FAMILY_PERM, FAMILY_BOOT)
                for _ in range(FAMILY_PLANTED)
            ]
            slopes = [r["slope_per_decade"] for r in planted] + [0.0] * n_null
            p_values = [r["p_value"] for r in planted] + list(
                np.maximum(rng.uniform(size=n_null), floor)
            )
            _, verdict = verdicts(slopes, p_values)
            found = verdict[:FAMILY_PLANTED] == "rising"
            planted_found.append(found.mean())
            right.append(found.all() and (verdict[FAMILY_PLANTED:] == "no evidence").all())
        out[str(tracks)] = {
            "all_verdicts_right": float(np.mean(right)),
            "planted_found": float(np.mean(planted_found)),
        }
    return out


def simulate_fold_embeddings(rng, n_artists=110, drift=0.0, dims=16, models=3):
    """(embeddings [models, n, dims], fold, year, artist) of one genre's tracks: 1-2 tracks per
    artist, artist effects, artist-grouped folds; each fold model embeds in its own basis and
    shifts its own held-out fold (in- and out-of-sample embeddings differ), and the sound drifts by
    ``drift`` SD along one direction across the 12 years."""
    artist = np.repeat(np.arange(n_artists), rng.integers(1, 3, n_artists))
    fold = rng.integers(0, 3, n_artists)[artist]
    year = rng.integers(YEARS[0], YEARS[1] + 1, n_artists).astype(float)[artist]
    direction = rng.normal(size=dims)
    direction /= np.linalg.norm(direction)
    middle, span = (YEARS[0] + YEARS[1]) / 2, YEARS[1] - YEARS[0]
    sound = (
        rng.normal(size=(n_artists, dims))[artist]
        + 0.7 * rng.normal(size=(len(artist), dims))
        + drift * np.outer((year - middle) / span, direction)
    )
    embeddings = np.stack(
        [
            sound @ rng.normal(size=(dims, dims))
            + 2.0 * (fold == k)[:, None] * rng.normal(size=dims)
            for k in range(models)
        ]
    )
    return embeddings, fold, year, artist


def projection_trend(rng, embeddings, fold, year, artist, refit=True, n_perm=PROJECTION_PERM):
    """The pipeline's projection test (``refit=False``: positions held fixed under permutation)."""
    fit = np.ones(len(fold), dtype=bool)

    def positions(years, weights=None):
        return axis_positions(embeddings, fold, years, fit, weights)

    return trend_test(
        positions(year)[0],
        year,
        artist,
        strata=fold,
        refit=positions if refit else None,
        alternative="greater",
        n_perm=n_perm,
        n_boot=200,
        rng=rng,
    )


def run_projection(rng: np.random.Generator) -> dict:
    """Rejection rate of the projection test per planted drift, refitted and held fixed."""
    out = {}
    for drift in PROJECTION_DRIFTS:
        for refit in (True, False):
            if drift and not refit:
                continue  # power is the refitted test's only
            results = [
                projection_trend(rng, *simulate_fold_embeddings(rng, drift=drift), refit=refit)
                for _ in range(PROJECTION_GENRES)
            ]
            name = f"{'refitted' if refit else 'positions_fixed'}_drift_{drift:g}"
            out[f"rejection_{name}"] = float(np.mean([r["p_value"] < ALPHA for r in results]))
            if not drift:  # the true slope of a null genre is 0
                out[f"ci_covers_0_{name}"] = float(
                    np.mean([r["ci_low"] <= 0 <= r["ci_high"] for r in results])
                )
    out["n_genres"] = PROJECTION_GENRES
    return out


def run_size(rng: np.random.Generator, size: dict) -> dict:
    """Rejection rate and CI coverage per planted effect."""
    rows = []
    for effect in EFFECTS:
        first, last = size["years"]
        true_slope = 10 * effect / (last - first)  # per decade, SD units
        for _ in range(size["genres"]):
            result = test_genre(rng, size, effect)
            rows.append(
                {
                    "effect": effect,
                    "rejected": result["p_value"] < ALPHA,
                    "covered": result["ci_low"] <= true_slope <= result["ci_high"],
                }
            )
    table = pd.DataFrame(rows).groupby("effect").mean()
    return {
        "n_genres_per_effect": size["genres"],
        "false_positive_rate": float(table.loc[0.0, "rejected"]),
        "power_at_default_drift": float(table.loc[DRIFT_SD, "rejected"]),
        "power_curve": {f"{e:g}": float(table.loc[e, "rejected"]) for e in EFFECTS},
        "ci_coverage": float(table["covered"].mean()),
        "ci_coverage_per_effect": {f"{e:g}": float(table.loc[e, "covered"]) for e in EFFECTS},
    }


def figure(results: dict, family: dict, path: Path) -> None:
    fig, (power, coverage, whole) = plt.subplots(1, 3, figsize=(15, 4))
    for name, result in results.items():
        power.plot(EFFECTS, list(result["power_curve"].values()), "o-", label=name)
        coverage.plot(EFFECTS, list(result["ci_coverage_per_effect"].values()), "o-", label=name)
    power.axhline(ALPHA, color="grey", ls="--", label=f"alpha {ALPHA}")
    power.axhline(0.8, color="grey", ls=":", label="power goal 0.8")
    power.axvline(DRIFT_SD, color="red", ls=":", label="default planted drift")
    power.set(
        xlabel="planted drift across the year range (within-genre SD)",
        ylabel="share of genres with p < 0.05",
        title="Trend test: rejection rate",
    )
    coverage.axhline(0.95, color="grey", ls="--", label="nominal 0.95")
    coverage.set(
        xlabel="planted drift across the year range (within-genre SD)",
        ylabel="share of CIs holding the true slope",
        title="95 % CI coverage of the slope",
        ylim=(0.8, 1.0),
    )
    sizes = [int(t) for t in family]
    whole.plot(
        sizes, [family[str(t)]["all_verdicts_right"] for t in sizes], "o-", label="all right"
    )
    whole.plot(sizes, [family[str(t)]["planted_found"] for t in sizes], "o-", label="planted found")
    whole.axhline(0.8, color="grey", ls=":", label="0.8")
    whole.set(
        xlabel="tracks per genre (generated; 79 % followed)",
        ylabel="share of simulated datasets",
        title=f"{FAMILY_GENRES} genres x {FAMILY_MEASURES} measures, BH q < {ALPHA}",
        ylim=(0, 1),
    )
    whole.legend(fontsize=8)
    power.legend(fontsize=8)
    coverage.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)


def main() -> int:
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    results = {name: run_size(rng, size) for name, size in SIZES.items()}
    family = run_family(rng)
    projection = run_projection(rng)
    print(
        f"projection: FPR refitted {projection['rejection_refitted_drift_0']:.3f}, positions "
        f"fixed {projection['rejection_positions_fixed_drift_0']:.3f} (goal 0.03-0.07); power "
        f"{projection['rejection_refitted_drift_1.5']:.3f} at 1.5 SD, "
        f"{projection['rejection_refitted_drift_3']:.3f} at 3 SD; CI covers 0 on null genres "
        f"{projection['ci_covers_0_refitted_drift_0']:.3f} (BCa, refitted) / "
        f"{projection['ci_covers_0_positions_fixed_drift_0']:.3f} (percentile, positions fixed)"
    )
    for tracks, result in family.items():
        print(
            f"family, {tracks} tracks per genre: every verdict right in "
            f"{result['all_verdicts_right']:.2f} of {FAMILY_DATASETS} datasets, planted drifts "
            f"found {result['planted_found']:.2f}"
        )
    for name, result in results.items():
        print(
            f"{name}: FPR {result['false_positive_rate']:.3f} (goal 0.03-0.07), power at "
            f"{DRIFT_SD} SD {result['power_at_default_drift']:.3f} (goal >= 0.8), CI coverage "
            f"{result['ci_coverage']:.3f} (goal >= 0.9); power curve {result['power_curve']}"
        )
    figure(results, family, ROOT / "results" / "figures" / "bench" / "evolution_calibration.png")
    summary = {
        **results,
        "family": family,
        "projection": projection,
        "artist_variance_share": CENTROID_ARTIST_SHARE,
        "followed_share": FOLLOWED,
        "alpha": ALPHA,
        "permutations": N_PERM,
        "bootstrap": N_BOOT,
        "seconds": time.perf_counter() - start,
    }
    bench_json = ROOT / "results" / "bench.json"
    merged = json.loads(bench_json.read_text()) if bench_json.is_file() else {}
    merged["bench_evolution"] = summary
    write_json(bench_json, merged)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
