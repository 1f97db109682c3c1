"""Calibration of the evolution trend test, simulated at the statistics level.

Each simulated genre has artists as random effects (the synthetic generator's artist share of the
variance, 1-2 tracks per artist) with one release year per artist, a planted linear drift of a given
size in within-genre SDs across the whole year range, the pipeline's period cells and eligibility
rules, and the pipeline's test (:func:`fmagenre.evolution.stats.trend_test`). Two sizes: the default
synthetic data (64 tracks per genre, 3-year periods over 2006-2017) and an fma_small-like genre
(1000 tracks, 1-7 tracks per artist, 5-year periods over 2008-2017). Reported: the false-positive
rate at alpha 0.05 over null genres (goal 0.03-0.07), the power at the default planted drift (goal
>= 0.8), the power curve over 0, 0.25, 0.5, 1, 1.5 SD and the coverage of the true slope by the 95 %
CI (goal >= 0.9). Writes its numbers into results/bench.json and draws
results/figures/bench/evolution_calibration.png.
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

from fmagenre.data.synth import DRIFT_SD, YEARS, artist_variance_share  # noqa: E402
from fmagenre.evolution.cells import cell_table, eligible_tracks, period_bins  # noqa: E402
from fmagenre.evolution.stats import trend_test  # noqa: E402
from fmagenre.figures.common import plt, save_figure  # noqa: E402
from fmagenre.io import write_json  # noqa: E402

EFFECTS = [0.0, 0.25, 0.5, 1.0, 1.5]  # planted change across the year range, within-genre SDs
SIZES = {
    "default": {
        "tracks": 64,
        "largest_artist": 2,
        "years": YEARS,
        "period_years": 3,
        "genres": 500,
    },
    "fma_small_like": {
        "tracks": 1000,
        "largest_artist": 7,
        "years": (2008, 2017),
        "period_years": 5,
        "genres": 100,
    },
}
MIN_TRACKS, MIN_ARTISTS, N_PERM, N_BOOT, ALPHA = 8, 3, 999, 1000, 0.05


def simulate_genre(rng: np.random.Generator, size: dict, effect_sd: float) -> pd.DataFrame:
    """One genre's tracks: artist effect + track scatter (total SD 1) + a linear drift over the years."""
    sizes = []
    while sum(sizes) < size["tracks"]:
        sizes.append(int(rng.integers(1, size["largest_artist"] + 1)))
    artists = np.repeat(np.arange(len(sizes)), sizes)[: size["tracks"]]
    first, last = size["years"]
    years = rng.integers(first, last + 1, len(sizes))[artists]
    share = artist_variance_share()
    value = (
        rng.normal(0, np.sqrt(share), len(sizes))[artists]
        + rng.normal(0, np.sqrt(1 - share), len(artists))
        + effect_sd * (years - first) / (last - first)
    )
    frame = pd.DataFrame({"genre": "g", "artist_id": artists, "year": years, "value": value})
    return frame.join(period_bins(frame["year"].astype(float), size["period_years"]))


def run_size(rng: np.random.Generator, size: dict) -> dict:
    """Rejection rate and CI coverage per planted effect."""
    rows = []
    for effect in EFFECTS:
        first, last = size["years"]
        true_slope = 10 * effect / (last - first)  # per decade, SD units
        for _ in range(size["genres"]):
            tracks = simulate_genre(rng, size, effect)
            keep = eligible_tracks(tracks, cell_table(tracks, MIN_TRACKS, MIN_ARTISTS))
            kept = tracks[keep]
            result = trend_test(
                kept["value"],
                kept["year"],
                kept["artist_id"],
                n_perm=N_PERM,
                n_boot=N_BOOT,
                rng=rng,
            )
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


def figure(results: dict, path: Path) -> None:
    fig, (power, coverage) = plt.subplots(1, 2, figsize=(10, 4))
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
    power.legend(fontsize=8)
    coverage.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)


def main() -> int:
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    results = {name: run_size(rng, size) for name, size in SIZES.items()}
    for name, result in results.items():
        print(
            f"{name}: FPR {result['false_positive_rate']:.3f} (goal 0.03-0.07), power at "
            f"{DRIFT_SD} SD {result['power_at_default_drift']:.3f} (goal >= 0.8), CI coverage "
            f"{result['ci_coverage']:.3f} (goal >= 0.9); power curve {result['power_curve']}"
        )
    figure(results, ROOT / "results" / "figures" / "bench" / "evolution_calibration.png")
    summary = {
        **results,
        "artist_variance_share": artist_variance_share(),
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
