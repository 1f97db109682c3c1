"""Activation maximisation: with the classifier frozen, find the input it scores highest for one genre.

The objective is the genre's margin by default (``fmagenre.models.margin.margin_torch``: the logit
minus the logsumexp of the others), which cannot be raised by lifting every logit together. The
variables live in an optimisation space (:mod:`fmagenre.optimise.space`: ``pixel`` or ``pca``); every
step scores a randomly transformed copy of the decoded input (:mod:`fmagenre.optimise.transforms`).

Starts (one batch, optimised together): standard-normal noise, the training mean (zeros) and
``starts - 2`` random real training tracks of the genre. The best-scoring real track (any split) is
the comparison the optimum is measured against and is never a start, so the optimum cannot be that
track left in place. Every start's result is written (:mod:`fmagenre.optimise.optimum`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from fmagenre.data.pack import (
    PARAM_ATTRS,
    band_extremes,
    fit_frames,
    read_packs,
    sample_windows,
)
from fmagenre.io import genre_slug, read_tsv
from fmagenre.models.margin import genre_margins, margin_torch
from fmagenre.optimise.optimum import Optimum, write_optimum
from fmagenre.optimise.scores import logit_column, model_logits
from fmagenre.optimise.space import PCA_MAX_SAMPLES, SPACES, PcaSpace, PixelSpace
from fmagenre.optimise.transforms import Transforms, receptive_field

log = logging.getLogger(__name__)

OBJECTIVES = ("margin", "logit", "log_probability")
FIXED_STARTS = ("noise", "mean")


@dataclass(frozen=True)
class OptimiseParams:
    """The ``optimise`` config keys the maximisation uses (defaults: the config schema)."""

    steps: int
    lr: float
    objective: str
    starts: int
    space: str
    pca_variance: float
    prior: float
    box: float
    l2: float
    tv: float
    band_shift: int
    gain_db: float
    seed: int

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"optimise.objective = {self.objective!r}; fix: use one of {list(OBJECTIVES)}"
            )
        if self.space not in SPACES:
            raise ValueError(f"optimise.space = {self.space!r}; fix: use one of {list(SPACES)}")
        if self.starts < len(FIXED_STARTS) + 1:
            raise ValueError(
                f"optimise.starts = {self.starts}; fix: at least 3 (noise, mean and a real track)"
            )

    @classmethod
    def from_config(cls, section: dict) -> OptimiseParams:
        """From the ``optimise`` config section (schema defaults filled)."""
        return cls(**{name: section[name] for name in cls.__dataclass_fields__})


@dataclass
class MaximiseResult:
    inputs: np.ndarray  # [S, C, T] normalised, after the last step (decoded, untransformed)
    trajectories: np.ndarray  # [S, steps] objective of the transformed input each step scored
    penalty_names: list[str]
    penalty_ratios: np.ndarray  # [S, P] penalty / |objective| at the last step


def objective(logits: torch.Tensor, target: int, kind: str) -> torch.Tensor:
    """The maximised score [S] of genre ``target``."""
    if kind == "margin":
        return margin_torch(logits, target)
    if kind == "log_probability":
        return torch.log_softmax(logits, dim=1)[:, target]
    return logits[:, target]


def maximise(
    model,
    target: int,
    space,
    variable: torch.Tensor,
    transforms: Transforms,
    params: OptimiseParams,
) -> MaximiseResult:
    """Adam on ``variable`` (the starts encoded in ``space``) to maximise genre ``target``.

    The model's weights are frozen for the call and restored afterwards.
    """
    generator = torch.Generator().manual_seed(params.seed)
    variable = variable.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([variable], lr=params.lr)
    frozen = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    was_training = model.training
    model.eval()
    trajectories = np.zeros((len(variable), params.steps), dtype=np.float32)
    try:
        for step in tqdm(range(params.steps), desc=f"maximise genre {target}", mininterval=5):
            z = space.decode(variable)
            score = objective(model(transforms(z, generator)), target, params.objective)
            penalties = space.penalties(variable, z)
            loss = (sum(penalties.values()) - score).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            space.project(variable)
            trajectories[:, step] = score.detach().numpy()
        with torch.no_grad():
            z = space.decode(variable)
            final = objective(model(z), target, params.objective)
            penalties = space.penalties(variable, z)
    finally:
        for p, flag in zip(model.parameters(), frozen):
            p.requires_grad_(flag)
        model.train(was_training)
    ratios = np.stack(
        [(value / final.abs().clamp_min(1e-6)).numpy() for value in penalties.values()], axis=1
    )
    return MaximiseResult(z.detach().numpy().copy(), trajectories, list(penalties), ratios)


# ---- pipeline job: named steps ------------------------------------------------------------------


def track_margins(
    scores: pd.DataFrame, slug: str, genres: list[str], scores_tsv: str
) -> np.ndarray:
    """Every scored track's margin for genre ``slug`` [N]."""
    columns = [logit_column(genre_slug(title)) for title in genres]
    missing = [c for c in columns if c not in scores]
    if missing:
        raise KeyError(
            f"{scores_tsv}: no columns {missing}; fix: rerun rule score_tracks for this model"
        )
    return genre_margins(scores[columns].to_numpy())[:, [genre_slug(g) for g in genres].index(slug)]


def typical_track(scores: pd.DataFrame, margins: np.ndarray, genre: str) -> int:
    """The genre's training track of median margin: what a typical real track of it scores."""
    mine = np.flatnonzero(
        ((scores["split"] == "training") & (scores["genre_top"] == genre)).to_numpy()
    )
    order = mine[np.argsort(margins[mine], kind="stable")]
    return int(scores["track_id"].iloc[order[len(order) // 2]])


def start_tracks(
    scores: pd.DataFrame, genre: str, best_id: int, count: int, seed: int
) -> list[int]:
    """``count`` random training tracks of ``genre``, never the best real track (fewer if there are fewer)."""
    pool = scores[
        (scores["split"] == "training")
        & (scores["genre_top"] == genre)
        & (scores["track_id"] != best_id)
    ]["track_id"].to_numpy()
    if not len(pool):
        raise ValueError(
            f"genre {genre!r} has no training track besides the best one: no real start"
        )
    chosen = np.random.default_rng(seed).choice(pool, size=min(count, len(pool)), replace=False)
    if len(chosen) < count:
        log.warning(
            "%s: only %d training tracks to start from (asked %d)", genre, len(chosen), count
        )
    return sorted(int(t) for t in chosen)


def pack_rows(pack: dict, track_ids: list[int], path: str) -> np.ndarray:
    """Rows of ``pack['x']`` for ``track_ids`` (feature units, [n, C, frames])."""
    index = {int(t): i for i, t in enumerate(pack["track_id"])}
    missing = [t for t in track_ids if t not in index]
    if missing:
        raise KeyError(
            f"{path}: tracks {missing[:5]} not found; fix: rerun score_tracks after the packs"
        )
    return pack["x"][[index[t] for t in track_ids]]


def build_space(params: OptimiseParams, x_train, normalise, frames: int, lo, hi):
    """The optimisation space; PCA fits on a bounded sample of the training windows
    (``sample_windows``: the split may be streamed), normalised by ``normalise``."""
    if params.space == "pixel":
        return PixelSpace(lo, hi, params.l2, params.tv)
    windows = normalise(sample_windows(x_train, frames, PCA_MAX_SAMPLES, params.seed))
    return PcaSpace(windows, params.pca_variance, params.prior, lo, hi, params.seed, params.box)


@dataclass
class RealTracks:
    """The real tracks one genre's optimisation uses: the comparison, a typical one and the starts."""

    best_id: int
    best_split: str
    best_margin: float
    best_x: np.ndarray  # [C, frames] feature units
    typical_id: int
    typical_x: np.ndarray
    start_ids: list[int]
    start_x: np.ndarray  # [n, C, frames] feature units


def choose_real_tracks(
    scores_tsv: str,
    packs: dict,
    datasets: dict[str, str],
    genres: list[str],
    target: int,
    params: OptimiseParams,
) -> RealTracks:
    """The best-scoring real track (any split), the typical one and the random training starts."""
    scores = read_tsv(scores_tsv)
    margins = track_margins(scores, genre_slug(genres[target]), genres, scores_tsv)
    best = scores.iloc[int(np.argmax(margins))]
    best_id, best_split = int(best["track_id"]), str(best["split"])
    typical_id = typical_track(scores, margins, genres[target])
    start_ids = start_tracks(
        scores, genres[target], best_id, params.starts - len(FIXED_STARTS), params.seed
    )
    return RealTracks(
        best_id,
        best_split,
        float(margins.max()),
        pack_rows(packs[best_split], [best_id], datasets[best_split])[0],
        typical_id,
        pack_rows(packs["training"], [typical_id], datasets["training"])[0],
        start_ids,
        pack_rows(packs["training"], start_ids, datasets["training"]),
    )


def start_batch(
    z_tracks: np.ndarray, shape: tuple[int, int], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Starting inputs [S, C, T] (normalised): noise, the training mean (zeros), the real tracks fitted
    to the model's input length; and the mask of the noise row."""
    z0 = np.concatenate(
        [
            np.random.default_rng(seed).standard_normal((1, *shape)),
            np.zeros((1, *shape)),
            np.stack([fit_frames(z, shape[1]) for z in z_tracks]),
        ]
    ).astype(np.float32)
    return z0, np.arange(len(z0)) == 0


def log_starts(
    genre: str, names: list[str], margins: np.ndarray, real: RealTracks, result: MaximiseResult
) -> None:
    for name, margin, ratio in zip(names, margins, result.penalty_ratios):
        penalties = ", ".join(f"{n} {r:.3g}" for n, r in zip(result.penalty_names, ratio))
        log.info(
            "%s start %s: margin %.3f (best real track %d: %.3f); penalty/objective %s",
            genre,
            name,
            margin,
            real.best_id,
            real.best_margin,
            penalties,
        )


def load_job(checkpoint: str, datasets: dict[str, str], genre: str, budget_mb: float | None):
    """The frozen model, its info, the target index of ``genre`` (slug) and the packs (in memory
    when they fit ``budget_mb``, else streamed)."""
    from fmagenre.models.checkpoint import load_model

    model, info = load_model(checkpoint, device="cpu")
    slugs = [genre_slug(title) for title in info["genres"]]
    if genre not in slugs:
        raise ValueError(
            f"{checkpoint}: genre slug {genre!r} is not one of the model's genres {slugs}"
        )
    return model, info, slugs.index(genre), read_packs(datasets, budget_mb)


def training_space(params: OptimiseParams, x_train, info: dict, frames: int):
    """(space, lo, hi): the optimisation space and the training split's normalised per-band box
    bounds; the bounds take one pass over the split, the PCA space a bounded sample of its windows
    (so a streamed split costs one chunk of memory)."""
    from fmagenre.models.checkpoint import normalise

    def z_of(x: np.ndarray) -> np.ndarray:
        return normalise(torch.as_tensor(x), info).numpy()

    lo, hi = band_extremes(x_train, z_of)
    return build_space(params, x_train, z_of, frames, lo, hi), lo, hi


def model_transforms(model, info: dict, frames: int, params: OptimiseParams) -> Transforms:
    """The random transforms of every step: time shifts up to the receptive field (at most half the
    input), band shifts and gains from ``params``."""
    return Transforms(
        info["bands"],
        int(info["n_mels"]),
        info["mean"],
        info["std"],
        min(receptive_field(model), frames // 2),
        params.band_shift,
        params.gain_db,
    )


def score_starts(model, info: dict, result: MaximiseResult, pack_frames: int, target: int):
    """Each final input in feature units, scored as a track (looped to the packed length, as the
    audio is) like track_scores.tsv: (inputs, logits, target margins)."""
    from fmagenre.models.checkpoint import denormalise

    x_starts = denormalise(torch.as_tensor(result.inputs), info).numpy()
    logits = model_logits(model, info, np.stack([fit_frames(x, pack_frames) for x in x_starts]))
    return x_starts, logits, genre_margins(logits)[:, target]


def optimise_genre(
    checkpoint: str,
    datasets: dict[str, str],
    scores_tsv: str,
    genre: str,
    output: str,
    params: OptimiseParams,
    budget_mb: float | None = None,
) -> None:
    """Optimise the input of one genre (slug ``genre``) and write ``results/optimise/{model}/{genre}.h5``.

    ``budget_mb``: ``training.memory_budget_mb`` (null: derived from the machine, see
    ``fmagenre.data.pack.memory_budget_mb``)."""
    from fmagenre.models.checkpoint import normalise

    torch.manual_seed(params.seed)
    model, info, target, packs = load_job(checkpoint, datasets, genre, budget_mb)
    genres = list(info["genres"])
    real = choose_real_tracks(scores_tsv, packs, datasets, genres, target, params)
    shape = tuple(int(v) for v in info["input_shape"])
    z0, noise = start_batch(
        normalise(torch.as_tensor(real.start_x), info).numpy(), shape, params.seed
    )
    space, lo, hi = training_space(params, packs["training"]["x"], info, shape[1])
    transforms = model_transforms(model, info, shape[1], params)
    result = maximise(model, target, space, space.encode(z0, noise), transforms, params)
    pack_frames = int(packs["training"]["attrs"]["frames"])
    x_starts, logits, margins = score_starts(model, info, result, pack_frames, target)
    names = [*FIXED_STARTS, *(f"track_{t}" for t in real.start_ids)]
    log_starts(genre, names, margins, real, result)
    write_optimum(
        output,
        Optimum(
            genre=genres[target],
            slug=genre,
            genre_index=target,
            genres=genres,
            start_names=names,
            start_track_ids=[-1, -1, *real.start_ids],
            start_inputs=x_starts.astype(np.float32),
            start_inputs_normalised=result.inputs.astype(np.float32),
            start_logits=logits.astype(np.float32),
            start_margins=margins.astype(np.float32),
            trajectories=result.trajectories,
            penalty_names=result.penalty_names,
            penalty_ratios=result.penalty_ratios.astype(np.float32),
            best_track_x=real.best_x,
            best_track_id=real.best_id,
            best_track_split=real.best_split,
            best_track_margin=real.best_margin,
            typical_track_x=real.typical_x,
            typical_track_id=real.typical_id,
            feature_lo_normalised=lo.astype(np.float32),
            feature_hi_normalised=hi.astype(np.float32),
            space=space.name,
            params=asdict(params),
            bands=info["bands"],
            frames=pack_frames,
            feature_set=str(info["feature_set"]),
            checkpoint=str(checkpoint),
            feature={key: int(packs["training"]["attrs"][key]) for key in PARAM_ATTRS},
        ),
    )
