"""Activation maximisation: with the classifier frozen, optimise its input to maximise one genre's score.

The input is optimised in the model's normalised units (per band zero mean, unit variance over the
training split), so the regularisers have one scale for every band:

- ``l2``: mean squared normalised value, a pull toward the training distribution's centre;
- ``tv``: mean absolute difference between neighbouring frames (total variation along time), which
  discourages frame-to-frame flicker that no real recording has;
- ``jitter_frames``: each step scores a random circular time shift of the input, so the optimum
  cannot rely on exact frame positions (the MFCC analogue of image jitter);
- ``clamp``: after each step the input is projected onto the per-band [min, max] of the training
  pack, because ``db_to_power`` in the audio inversion exponentiates anything outside the data.

All starts (noise, the training mean = zeros, the best real track) are optimised together as one
batch, so a start costs no extra forward passes beyond its batch row.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

import h5py
import numpy as np
import torch
from tqdm import tqdm

from fmagenre.data.pack import PARAM_ATTRS, fit_frames, iter_chunks, read_packs
from fmagenre.io import atomic_path, genre_slug, read_tsv
from fmagenre.optimise.scores import logit_column, model_logits

log = logging.getLogger(__name__)

OBJECTIVES = ("logit", "log_probability")
START_KINDS = ("noise", "mean", "best_track")


@dataclass(frozen=True)
class OptimiseParams:
    steps: int = 150
    lr: float = 0.05
    objective: str = "logit"
    starts: tuple[str, ...] = ("noise", "mean", "best_track")
    l2: float = 0.01
    tv: float = 0.05
    jitter_frames: int = 8
    clamp: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"optimise.objective = {self.objective!r}; fix: use one of {list(OBJECTIVES)}"
            )
        unknown = sorted(set(self.starts) - set(START_KINDS))
        if unknown or not self.starts:
            raise ValueError(
                f"optimise.starts = {list(self.starts)}; fix: a non-empty list from {list(START_KINDS)}"
            )

    @classmethod
    def from_config(cls, section: dict) -> "OptimiseParams":
        """From the ``optimise`` config section (schema defaults filled; ``models`` is not a parameter)."""
        values = {name: section[name] for name in cls.__dataclass_fields__ if name in section}
        if "starts" in values:
            values["starts"] = tuple(values["starts"])
        return cls(**values)


@dataclass
class MaximiseResult:
    start_names: list[str]
    inputs: np.ndarray  # [S, C, T] normalised, after the last step
    trajectories: np.ndarray  # [S, steps] objective of the (jittered) input each step scored
    logits: np.ndarray  # [S, G] of the final inputs, unjittered
    target: int


def feature_range(x_train) -> tuple[np.ndarray, np.ndarray]:
    """Per-band min and max over all training tracks and frames of ``x_train`` [N, C, T], [C] each
    (in memory or a streamed ``PackArray``, read in chunks)."""
    parts = [(x.min(axis=(0, 2)), x.max(axis=(0, 2))) for _, x in iter_chunks(x_train, 256)]
    return np.min([lo for lo, _ in parts], axis=0), np.max([hi for _, hi in parts], axis=0)


def jitter(z: torch.Tensor, shifts: list[int]) -> torch.Tensor:
    """Roll each batch row along time by its own shift: circular, so no frame is lost or invented."""
    return torch.stack([torch.roll(row, shift, dims=-1) for row, shift in zip(z, shifts)])


def total_variation(z: torch.Tensor) -> torch.Tensor:
    """Mean absolute frame-to-frame difference per batch row [S]."""
    return (z[..., 1:] - z[..., :-1]).abs().mean(dim=(-2, -1))


def maximise(
    model: torch.nn.Module,
    target: int,
    starts: dict[str, np.ndarray],
    params: OptimiseParams,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> MaximiseResult:
    """Adam on the inputs ``starts`` (name -> [C, T] normalised) to maximise genre ``target``.

    ``lo``/``hi`` ([C], normalised) are required when ``params.clamp`` is set. The model's weights
    are not changed (they are frozen for the call and restored afterwards).
    """
    if params.clamp and (lo is None or hi is None):
        raise ValueError("maximise: clamp is on but no feature range (lo, hi) was given")
    generator = torch.Generator().manual_seed(params.seed)
    names = list(starts)
    z = torch.tensor(np.stack([starts[name] for name in names]), dtype=torch.float32)
    lo_t = hi_t = None
    if params.clamp:
        lo_t = torch.as_tensor(lo, dtype=torch.float32)[None, :, None]
        hi_t = torch.as_tensor(hi, dtype=torch.float32)[None, :, None]
        z = torch.maximum(torch.minimum(z, hi_t), lo_t)
    z.requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=params.lr)
    frozen = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    was_training = model.training
    model.eval()
    trajectories = np.zeros((len(names), params.steps), dtype=np.float32)
    try:
        for step in tqdm(range(params.steps), desc=f"maximise genre {target}", mininterval=5):
            j = params.jitter_frames
            shifts = torch.randint(-j, j + 1, (len(names),), generator=generator).tolist() if j else [0] * len(names)
            logits = model(jitter(z, shifts))
            score = logits[:, target]
            if params.objective == "log_probability":
                score = torch.log_softmax(logits, dim=1)[:, target]
            penalty = params.l2 * z.pow(2).mean(dim=(1, 2)) + params.tv * total_variation(z)
            loss = (penalty - score).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            trajectories[:, step] = score.detach().numpy()
            if params.clamp:
                with torch.no_grad():
                    z.copy_(torch.maximum(torch.minimum(z, hi_t), lo_t))
        with torch.no_grad():
            final = model(z).numpy()
    finally:
        for p, flag in zip(model.parameters(), frozen):
            p.requires_grad_(flag)
        model.train(was_training)
    return MaximiseResult(names, z.detach().numpy().copy(), trajectories, final, target)


def start_inputs(
    kinds: tuple[str, ...], shape: tuple[int, int], best_track: np.ndarray | None, seed: int
) -> dict[str, np.ndarray]:
    """The starting inputs [C, T] (normalised): standard-normal noise, the training mean, the best track.

    The best track ([C, frames] normalised) is centre-cropped or wrapped to the model's input
    length, as the packs do.
    """
    rng = np.random.default_rng(seed)
    starts = {}
    for kind in kinds:
        if kind == "noise":
            starts[kind] = rng.standard_normal(shape).astype(np.float32)
        elif kind == "mean":
            starts[kind] = np.zeros(shape, dtype=np.float32)
        else:
            if best_track is None:
                raise ValueError("start 'best_track' requested but no best track was given")
            starts[kind] = fit_frames(best_track, shape[1]).astype(np.float32)
    return starts


# ---- pipeline job --------------------------------------------------------------------------------


def optimise_genre(
    checkpoint: str,
    datasets: dict[str, str],
    scores_tsv: str,
    genre: str,
    output: str,
    params: OptimiseParams,
) -> None:
    """Optimise the input of one genre (slug ``genre``) and write ``results/optimise/{model}/{genre}.h5``."""
    from fmagenre.models import denormalise, load_model, normalise

    torch.manual_seed(params.seed)
    model, info = load_model(checkpoint, device="cpu")
    slugs = [genre_slug(title) for title in info["genres"]]
    if genre not in slugs:
        raise ValueError(f"{checkpoint}: genre slug {genre!r} is not one of the model's genres {slugs}")
    target = slugs.index(genre)
    packs = read_packs(datasets)
    # the per-band normalisation is increasing, so the normalised range is the normalised raw range
    lo, hi = (normalise(torch.as_tensor(v)[:, None], info)[:, 0].numpy()
              for v in feature_range(packs["training"]["x"]))

    scores = read_tsv(scores_tsv)
    column = logit_column(genre)
    if column not in scores:
        raise KeyError(f"{scores_tsv}: no column {column!r}; fix: rerun rule score_tracks for this model")
    best_row = scores.loc[scores[column].idxmax()]
    best_split, best_id = str(best_row["split"]), int(best_row["track_id"])
    pack = packs[best_split]
    index = np.flatnonzero(pack["track_id"] == best_id)
    if index.size != 1:
        raise KeyError(f"{datasets[best_split]}: track {best_id} not found; fix: rerun score_tracks")
    best_x = pack["x"][index[0]]
    best_z = normalise(torch.as_tensor(best_x), info).numpy()

    shape = tuple(int(v) for v in info["input_shape"])
    starts = start_inputs(params.starts, shape, best_z, params.seed)
    result = maximise(model, target, starts, params, lo if params.clamp else None, hi if params.clamp else None)
    # Score each final input as a track (looped to the packed length, as the audio is) with the same
    # track_logits as track_scores.tsv, so that the gap compares like with like for segment models too.
    x_starts = denormalise(torch.as_tensor(result.inputs), info).numpy()
    frames = int(packs["training"]["attrs"]["frames"])
    track = model_logits(model, info, np.stack([fit_frames(x, frames) for x in x_starts]))
    best = int(np.argmax(track[:, target]))
    z_opt, x_opt, logits = result.inputs[best], x_starts[best], track[best]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    start_probabilities = torch.softmax(torch.as_tensor(track), dim=1)[:, target].numpy()
    log.info(
        "%s: optimum track score %.3f (start %s), best real track %d (%s) %.3f",
        genre, logits[target], result.start_names[best], best_id, best_split, best_row[column],
    )
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as handle:
        handle["x_normalised"] = z_opt
        handle["x"] = x_opt
        handle["logits"] = logits.astype(np.float32)
        handle["start_inputs_normalised"] = result.inputs
        handle["trajectories"] = result.trajectories
        handle["start_logits"] = track[:, target].astype(np.float32)
        handle["start_model_logits"] = result.logits.astype(np.float32)
        handle["start_probabilities"] = start_probabilities.astype(np.float32)
        handle["best_track_x"] = best_x
        handle["feature_lo_normalised"] = lo
        handle["feature_hi_normalised"] = hi
        attrs = handle.attrs
        attrs["genre"] = info["genres"][target]
        attrs["slug"] = genre
        attrs["genre_index"] = target
        attrs["logit"] = float(logits[target])
        attrs["probability"] = float(probabilities[target])
        attrs["best_start"] = result.start_names[best]
        attrs["start_names"] = json.dumps(result.start_names)
        attrs["best_track_id"] = best_id
        attrs["best_track_split"] = best_split
        attrs["best_track_logit"] = float(best_row[column])
        attrs["params"] = json.dumps(asdict(params))
        attrs["bands"] = json.dumps(info["bands"])
        attrs["genres"] = json.dumps(list(info["genres"]))
        attrs["frames"] = frames
        attrs["feature_set"] = info["feature_set"]
        for key in PARAM_ATTRS:
            attrs[key] = packs["training"]["attrs"][key]
        attrs["checkpoint"] = str(checkpoint)
        attrs["trajectory_note"] = "objective of the jittered input scored at each step"
        attrs["logit_note"] = "track-level score (fmagenre.models.track_logits of the looped input)"
