"""Realism of every optimised start, and a verdict: representative music, or an adversarial pattern.

``results/optimise/{model}/quality.tsv`` has one row per genre and start:

- ``margin``: the start's final input scored as a track (margin units); ``best_track_margin``;
- ``clamp_fraction``: share of cells within 1 % of the box range of a bound of the training box
  (real test tracks: 0 %); an input on the box corners has 1;
- ``knn_percentile``: mean distance to the 5 nearest training tracks of the genre, as a percentile of
  the same statistic over those tracks (each without itself); 100 = farther than every real track.
  Distances are between texture descriptors (per band: mean, standard deviation and mean absolute
  frame-to-frame change over time, normalised units), which do not depend on time alignment or
  length, so a jittered optimum and a 30 s track compare;
- ``frechet_distance``: between the penultimate activations (the last linear layer's input) of the
  genre's optima (all starts) and of its training tracks; one value per genre, repeated;
- ``transfer_rank_{other}`` / ``transfer_margin_{other}``: the optimum scored by every other trained
  model on the same feature set and the second-seed replicate (``{model}_replicate1``);
- ``roundtrip_share`` = (M_roundtrip - M_best_roundtrip) / (M_optimum - M_best): the share of the
  optimum's gap over the best real track that is still there after both went through audio (inversion,
  re-extraction, scoring the same way), in margin units; inversion loses some margin for real tracks
  too, so the best track's own round trip is the reference after it. NaN when the optimum does not
  outscore the best real track (there is no gap to keep); ``spectral_convergence_db``;
- ``judge_probability`` / ``judge_percentile``: the musicnn judge's probability for the genre's
  mapped tags (``judge.genre_tags``: the highest of them) on the start's round-trip clip
  (``results/judge/audio/{model}.tsv``), and its percentile among the same probability on the genre's
  real training clips (``results/judge/tracks.tsv``); NA for a genre without a mapped tag, never a
  made-up score. The judge never saw our data, so it is the one independent check; on the synthetic
  data its tags mean nothing, so it takes part in the verdict only when ``judge_percentile_min`` is set;
- ``verdict``: ``representative`` when every check passes, else ``adversarial``; ``failed_checks``
  names the failing ones. The checks (thresholds from the config):
  clamp_fraction <= clamp_fraction_max, knn_percentile <= knn_percentile_max, transfer rank 1 for
  more than half of the transfer models (passes when there are none), roundtrip_share >= roundtrip_share_min,
  and, when judge_percentile_min is set, judge_percentile >= judge_percentile_min (NA passes).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.stats
import torch
from scipy.spatial import cKDTree

from fmagenre.data.pack import fit_frames, gather, read_packs
from fmagenre.io import read_tsv, write_tsv
from fmagenre.judge.genre_tags import genre_tag_scores
from fmagenre.models.margin import genre_margins
from fmagenre.optimise.optimum import Optimum, read_optimum
from fmagenre.optimise.scores import model_logits

log = logging.getLogger(__name__)

KNN = 5
BOUND_TOLERANCE = 0.01  # share of the box range within which a cell counts as on the bound
VERDICTS = ("representative", "adversarial")


@dataclass(frozen=True)
class Thresholds:
    knn_percentile_max: float = 95.0
    clamp_fraction_max: float = 0.01
    roundtrip_share_min: float = 0.5
    judge_percentile_min: float | None = None

    @classmethod
    def from_config(cls, section: dict) -> Thresholds:
        return cls(**{name: section[name] for name in cls.__dataclass_fields__})


def clamp_fraction(z: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Share of cells of ``z`` [S, C, T] within ``BOUND_TOLERANCE`` of the per-band range of a bound, [S]."""
    tolerance = BOUND_TOLERANCE * (hi - lo)[None, :, None]
    on_bound = (z <= lo[None, :, None] + tolerance) | (z >= hi[None, :, None] - tolerance)
    return on_bound.mean(axis=(1, 2))


def descriptors(z: np.ndarray) -> np.ndarray:
    """Texture descriptor [N, 3C] of inputs [N, C, T]: per band mean, std and mean |frame change|."""
    return np.concatenate(
        [z.mean(axis=2), z.std(axis=2), np.abs(np.diff(z, axis=2)).mean(axis=2)], axis=1
    )


def knn_percentile(candidates: np.ndarray, real: np.ndarray, k: int = KNN) -> np.ndarray:
    """Percentile of each candidate's mean distance to its ``k`` nearest ``real`` rows among the real
    rows' own (leave-one-out) statistic; candidates [S, D], real [N, D]. A genre with N <= k tracks
    uses its N - 1 nearest (logged): a small real set still gives a percentile."""
    if len(real) < 2:
        raise ValueError(
            f"knn_percentile needs at least 2 real tracks of the genre, got {len(real)}"
        )
    if len(real) <= k:
        log.warning(
            "knn_percentile: only %d real tracks; using %d neighbours instead of %d",
            len(real),
            len(real) - 1,
            k,
        )
        k = len(real) - 1
    tree = cKDTree(real)
    own = tree.query(real, k=list(range(2, k + 2)))[0].mean(axis=1)  # the 1st neighbour is itself
    mine = tree.query(candidates, k=list(range(1, k + 1)))[0].mean(axis=1)
    return np.array([scipy.stats.percentileofscore(own, value, kind="mean") for value in mine])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to activations ``a`` [n, D] and ``b`` [m, D]."""
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with (
        warnings.catch_warnings()
    ):  # with fewer optima than dimensions the product is singular: fine
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * np.real(root)))


def roundtrip_share(
    margins: np.ndarray, best: float, after: np.ndarray, best_after: float
) -> np.ndarray:
    """Share of each optimum's gap over the best real track left after both went through audio;
    NaN where the optimum does not outscore the best track."""
    gap = np.asarray(margins, dtype=np.float64) - best
    return np.where(gap > 0, (np.asarray(after) - best_after) / np.where(gap > 0, gap, 1.0), np.nan)


def penultimate(model, z: np.ndarray) -> np.ndarray:
    """Input of the model's last linear layer for normalised inputs ``z`` [N, C, T] (both zoo models
    end in ``head[-1]``)."""
    captured = []
    hook = model.head[-1].register_forward_pre_hook(
        lambda _, args: captured.append(args[0].detach())
    )
    try:
        with torch.no_grad():
            model(torch.as_tensor(z, dtype=torch.float32))
    finally:
        hook.remove()
    return captured[0].numpy().astype(np.float64)


def transfer_scores(
    checkpoints: dict[str, str], optima: list[Optimum]
) -> dict[str, list[np.ndarray]]:
    """``{name: [logits [S, G] per optimum]}``: every optimum's starts scored as tracks by each model."""
    from fmagenre.models.checkpoint import load_model

    scored = {}
    for name, path in checkpoints.items():
        model, info = load_model(path, device="cpu")
        if list(info["genres"]) != optima[0].genres:
            raise ValueError(
                f"{path}: genres {info['genres']} differ from the optimised model's "
                f"{optima[0].genres}; fix: train both on the same splits"
            )
        scored[name] = [
            model_logits(model, info, np.stack([fit_frames(x, o.frames) for x in o.start_inputs]))
            for o in optima
        ]
    return scored


def verdicts(
    table: pd.DataFrame, transfer_names: list[str], thresholds: Thresholds
) -> pd.DataFrame:
    """``verdict`` and ``failed_checks`` columns by the rule of the module docstring."""
    checks = {
        "clamp_fraction": table["clamp_fraction"] <= thresholds.clamp_fraction_max,
        "knn_percentile": table["knn_percentile"] <= thresholds.knn_percentile_max,
        "roundtrip_share": table["roundtrip_share"] >= thresholds.roundtrip_share_min,
    }
    if thresholds.judge_percentile_min is not None:
        if "judge_percentile" not in table:
            raise ValueError(
                "optimise.judge_percentile_min is set but no judge tags were given; "
                "fix: pass the judge's tables (rule optimum_quality does) or set it to null"
            )
        percentile = table["judge_percentile"]
        checks["judge"] = percentile.isna() | (percentile >= thresholds.judge_percentile_min)
    if transfer_names:
        top = np.stack([table[f"transfer_rank_{name}"] == 1 for name in transfer_names], axis=1)
        checks["transfer"] = pd.Series(top.sum(axis=1) > len(transfer_names) / 2, index=table.index)
    passed = pd.DataFrame(checks)
    table["verdict"] = np.where(passed.all(axis=1), VERDICTS[0], VERDICTS[1])
    table["failed_checks"] = [
        ",".join(name for name in passed if not row[name]) or "none" for _, row in passed.iterrows()
    ]
    return table


@dataclass(frozen=True)
class JudgeTags:
    """The judge's tags of every start's clip and of the real tracks, and the genre -> tags map."""

    clips: pd.DataFrame  # results/judge/audio/{model}.tsv indexed by ``wav``
    tracks: pd.DataFrame  # results/judge/tracks.tsv indexed by ``track_id``
    genre_tags: dict[str, list[str]]

    @classmethod
    def read(cls, audio_tsv: str, tracks_tsv: str, genre_tags: dict) -> JudgeTags:
        return cls(
            read_tsv(audio_tsv).set_index("wav"),
            read_tsv(tracks_tsv).set_index("track_id"),
            dict(genre_tags),
        )

    def columns(
        self, genre: str, slug: str, starts: list[str], real_ids: np.ndarray
    ) -> pd.DataFrame:
        """``judge_probability`` and ``judge_percentile`` per start of ``genre`` (NA without a
        mapped tag); ``real_ids``: the genre's real training tracks."""
        wavs = [f"starts/{slug}/{name}.wav" for name in starts]
        missing = [w for w in wavs if w not in self.clips.index] + [
            int(t) for t in real_ids if int(t) not in self.tracks.index
        ]
        if missing:
            raise KeyError(
                f"judge tags missing for {missing[:5]}; fix: rerun rules judge_audio/judge_tracks"
            )
        clip = genre_tag_scores(self.clips.loc[wavs], self.genre_tags, [genre])[genre]
        real = genre_tag_scores(self.tracks.loc[real_ids], self.genre_tags, [genre])[genre]
        percentile = [
            np.nan if np.isnan(p) else scipy.stats.percentileofscore(real, p, kind="mean")
            for p in clip.to_numpy(dtype=np.float64)
        ]
        return pd.DataFrame(
            {"judge_probability": clip.to_numpy(dtype=np.float64), "judge_percentile": percentile}
        )


def genre_quality(
    optimum: Optimum,
    model,
    real_z: np.ndarray,
    roundtrip: pd.DataFrame,
    transfer: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Rows of ``quality.tsv`` for one genre (without the verdict); ``real_z`` [N, C, T_input] are the
    genre's training tracks in model units fitted to the model's input length."""
    z = optimum.start_inputs_normalised
    lo, hi = optimum.feature_lo_normalised, optimum.feature_hi_normalised
    frechet = frechet_distance(penultimate(model, z), penultimate(model, real_z))
    indexed = roundtrip.set_index("start")
    rt = indexed.reindex(optimum.start_names)
    best = optimum.best_track_margin
    share = roundtrip_share(
        optimum.start_margins,
        best,
        rt["roundtrip_margin"].to_numpy(),
        float(indexed.loc["best_track", "roundtrip_margin"]),
    )
    table = pd.DataFrame(
        {
            "genre": optimum.genre,
            "start": optimum.start_names,
            "margin": optimum.start_margins,
            "best_track_margin": best,
            "clamp_fraction": clamp_fraction(z, lo, hi),
            "knn_percentile": knn_percentile(descriptors(z), descriptors(real_z)),
            "frechet_distance": frechet,
        }
    )
    for name, logits in transfer.items():
        target = logits[:, optimum.genre_index]
        table[f"transfer_rank_{name}"] = 1 + (logits > target[:, None]).sum(axis=1)
        table[f"transfer_margin_{name}"] = genre_margins(logits)[:, optimum.genre_index]
    table["roundtrip_share"] = share
    table["spectral_convergence_db"] = rt["spectral_convergence_db"].to_numpy()
    return table


def quality_table(
    checkpoint: str,
    datasets: dict[str, str],
    optimum_h5s: list[str],
    roundtrip_tsvs: list[str],
    transfer: dict[str, str],
    output: str,
    thresholds: Thresholds,
    budget_mb: float | None = None,
    judge: JudgeTags | None = None,
) -> None:
    """``quality.tsv`` of one model (see the module docstring); ``budget_mb`` as in
    :func:`fmagenre.data.pack.read_packs`; without ``judge`` no judge columns."""
    from fmagenre.models.checkpoint import load_model, normalise

    model, info = load_model(checkpoint, device="cpu")
    frames = int(info["input_shape"][1])
    # in memory when it fits the budget, else streamed: each genre's tracks are read, fitted to the
    # model's input and normalised a chunk at a time
    training = read_packs({"training": datasets["training"]}, budget_mb)["training"]
    labels = np.asarray(training["y"])

    def model_inputs(x: np.ndarray) -> np.ndarray:
        fitted = np.stack([fit_frames(track, frames) for track in x])
        return normalise(torch.as_tensor(fitted), info).numpy()

    optima = [read_optimum(path) for path in optimum_h5s]
    scored = transfer_scores(transfer, optima)
    tables = []
    for index, (optimum, roundtrip_tsv) in enumerate(zip(optima, roundtrip_tsvs)):
        genre_rows = np.flatnonzero(labels == optimum.genre_index)
        real = gather(training["x"], genre_rows, model_inputs)
        table = genre_quality(
            optimum,
            model,
            real,
            read_tsv(roundtrip_tsv),
            {name: logits[index] for name, logits in scored.items()},
        )
        if judge is not None:
            ids = np.asarray(training["track_id"])[genre_rows]
            judged = judge.columns(optimum.genre, optimum.slug, optimum.start_names, ids)
            table = pd.concat([table, judged], axis=1)
        tables.append(table)
    table = verdicts(pd.concat(tables, ignore_index=True), list(transfer), thresholds)
    for genre, rows in table.groupby("genre", sort=False):
        log.info(
            "%s: %d/%d starts representative",
            genre,
            int((rows["verdict"] == VERDICTS[0]).sum()),
            len(rows),
        )
    write_tsv(output, table)
