"""Training per model config: seeded, resumable, early-stopped on validation.

Segment models train on fixed-length windows of each clip (consecutive, with a random offset per
epoch) and predict a track by the mean log-probability of its consecutive windows. Single-label
models train and are scored on the tracks with a ``genre_top`` (pack label >= 0); multi-label models
on every track, including those with several root genres (label -1). What is reported about a
trained model (metrics, summary) lives in :mod:`fmagenre.models.report`, pack loading in
:mod:`fmagenre.models.data`, figures in :mod:`fmagenre.figures.models`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score
from torch import nn
from tqdm import tqdm

from fmagenre.data.loader import Split, make_split
from fmagenre.data.metadata import SPLITS
from fmagenre.data.pack import read_packs
from fmagenre.device import resolve_device
from fmagenre.io import atomic_path, write_json
from fmagenre.models.checkpoint import aggregate, save_checkpoint, segments
from fmagenre.models.data import segment_frames, select_rows
from fmagenre.models.report import model_metrics
from fmagenre.models.zoo import build_model

log = logging.getLogger("fmagenre.models")

REQUIRED = (
    "arch",
    "features",
    "optimizer",
    "lr",
    "lr_decay",
    "lr_schedule",
    "momentum",
    "weight_decay",
    "epochs",
    "batch_size",
    "patience",
    "dropout",
    "segment_seconds",
    "multilabel",
    "seed",
    "device",
)
RESUME_NAME = "resume.pt"
EVAL_BATCH = 256


# ---- setup ---------------------------------------------------------------------------------------


def check_spec(spec: dict) -> None:
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise ValueError(
            f"model spec '{spec.get('name')}' lacks {missing}. Fix: pass the spec with the schema "
            "defaults filled in (rules/common.smk model_spec does this)."
        )


def seed_everything(seed: int, device: torch.device, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(max(int(threads), 1))
    # CPU runs are bit-reproducible; CUDA kernels (cuDNN, atomics) are not guaranteed to be.
    torch.use_deterministic_algorithms(device.type == "cpu")
    # Deterministic mode would also NaN-fill every new tensor (a debugging aid): a third of the run time.
    torch.utils.deterministic.fill_uninitialized_memory = False


# ---- the training loop -------------------------------------------------------------------------------


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def predict(
    model: nn.Module, split: Split, frames: int, multilabel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(track logits [N, G], segment logits [N, S, G]) in eval mode, float32, on the split's storage."""
    model.eval()
    count = split.shape[2] // frames
    # Streamed chunks hold whole eval batches, so both paths batch the windows alike.
    outs = []
    for x in split.chunks(EVAL_BATCH // math.gcd(EVAL_BATCH, count)):
        windows = segments(x, frames)
        flat = windows.reshape(-1, *windows.shape[2:])
        with torch.no_grad(), _autocast(split.device):
            outs.extend(
                model(flat[i : i + EVAL_BATCH].to(split.device)).float().to(split.storage)
                for i in range(0, len(flat), EVAL_BATCH)
            )
    seg = torch.cat(outs).reshape(split.shape[0], count, -1)
    return aggregate(seg, multilabel), seg


def accuracy_of(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Exact fraction (count / n in float64) over the labelled tracks (y >= 0), not a float mean."""
    labelled = y >= 0
    return int((logits.argmax(dim=1) == y)[labelled].sum()) / max(int(labelled.sum()), 1)


def _loss(logits: torch.Tensor, split: Split, multilabel: bool) -> float:
    if multilabel:
        return float(nn.functional.binary_cross_entropy_with_logits(logits, split.y_multi))
    return float(nn.functional.cross_entropy(logits, split.y))


def _optimizer(model: nn.Module, spec: dict) -> torch.optim.Optimizer:
    if spec["optimizer"] == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=spec["lr"],
            momentum=spec["momentum"],
            weight_decay=spec["weight_decay"],
        )
    if spec["optimizer"] == "adam":
        return torch.optim.Adam(
            model.parameters(), lr=spec["lr"], weight_decay=spec["weight_decay"]
        )
    raise ValueError(
        f"model '{spec.get('name')}': unknown optimizer {spec['optimizer']!r}. Fix: sgd or adam."
    )


def learning_rate(spec: dict, epoch: int, update: int) -> float:
    """The paper's "decay": ``exponential`` multiplies lr by lr_decay after every epoch;
    ``inverse_time`` is Keras SGD's ``decay`` (the paper's code): lr / (1 + lr_decay * updates so far).

    A function of (epoch, update) only, so a resumed run sets exactly the rates of an uninterrupted one.
    """
    if spec["lr_schedule"] == "inverse_time":
        return spec["lr"] / (1.0 + spec["lr_decay"] * update)
    return spec["lr"] * spec["lr_decay"] ** epoch


def _rng_state() -> dict:
    numpy_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [
            numpy_state[0],
            torch.from_numpy(numpy_state[1].astype(np.int64)),
            *numpy_state[2:],
        ],
        "random": random.getstate(),
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["random"]
    random.setstate((version, tuple(internal), gauss))


def _new_state() -> dict:
    return {
        "epoch": 0,
        "history": [],
        "best": None,
        "best_score": None,
        "best_epoch": 0,
        "bad_epochs": 0,
        "done": False,
    }


def _restore(resume_path: Path | None, identity, model: nn.Module, optimizer) -> dict:
    """The saved training state when ``resume_path`` holds one for this identity, else a new one."""
    if resume_path is None or not resume_path.is_file():
        return _new_state()
    # On the CPU: RNG states must be CPU tensors; load_state_dict moves the rest to the model.
    saved = torch.load(resume_path, map_location="cpu", weights_only=True)
    if saved["identity"] != identity:
        log.warning("ignoring %s: it was written for another spec or dataset", resume_path)
        return _new_state()
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    _set_rng_state(saved["rng"])
    log.info("resumed from %s after epoch %d", resume_path, saved["state"]["epoch"])
    return saved["state"]


def _save_resume(resume_path: Path, identity, model: nn.Module, optimizer, state: dict) -> None:
    payload = {
        "identity": identity,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": _rng_state(),
        "state": state,
    }
    with atomic_path(resume_path) as tmp:
        torch.save(payload, tmp)


def _train_epoch(model, optimizer, criterion, train: Split, spec: dict, frames: int, epoch: int):
    """One epoch over every (track, segment) pair in a seeded order -> the epoch's history row."""
    device, storage = train.device, train.storage
    multilabel = bool(spec["multilabel"])
    n, _, total = train.shape
    count = total // frames
    batches = -(-n * count // spec["batch_size"])
    generator = torch.Generator().manual_seed(int(spec["seed"]) * 1_000_003 + epoch)
    offsets = torch.randint(0, total - count * frames + 1, (n,), generator=generator).to(storage)
    order = torch.randperm(n * count, generator=generator).to(storage)
    within = torch.arange(frames, device=storage)
    model.train()
    loss_sum, correct, labelled = 0.0, 0, 0
    size = spec["batch_size"]
    steps = [order[start : start + size] for start in range(0, len(order), size)]
    # (track, first frame) of every window of every batch; a streamed split reads ahead.
    where = ((b // count, offsets[b // count] + (b % count) * frames) for b in steps)
    bar = tqdm(
        zip(steps, train.batches(where, within)),
        total=len(steps),
        desc=f"epoch {epoch + 1}",
        unit="batch",
        leave=False,
        mininterval=30,
    )
    for step, (batch, xb) in enumerate(bar):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(spec, epoch, epoch * batches + step)
        track = batch // count
        xb = xb.to(device)
        target = (train.y_multi if multilabel else train.y)[track].to(device)
        with _autocast(device):
            out = model(xb)
            loss = criterion(out.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += float(loss.detach()) * len(batch)
        y = train.y[track].to(device)
        correct += int((out.argmax(dim=1) == y).sum())
        labelled += int((y >= 0).sum())
    return {
        "epoch": epoch + 1,
        "lr": learning_rate(spec, epoch, epoch * batches),
        "train_loss": loss_sum / len(order),
        "train_accuracy": correct / max(labelled, 1),
    }


def _keep_best(state: dict, model: nn.Module, score, done: bool, patience: int) -> None:
    """Early stopping: remember the best-scoring weights; stop after ``patience`` worse epochs."""
    if state["best_score"] is None or score > state["best_score"]:
        state["best_score"], state["bad_epochs"] = score, 0
        state["best"] = {key: value.detach().clone() for key, value in model.state_dict().items()}
        state["best_epoch"] = state["epoch"]
    else:
        state["bad_epochs"] += 1
    state["done"] = done or state["bad_epochs"] >= patience


def fit(
    model: nn.Module,
    train: Split,
    spec: dict,
    frames: int,
    evaluate,
    resume_path: Path | None = None,
    identity: dict | None = None,
) -> tuple[list[dict], int]:
    """Train ``model`` in place; leave the best state (by ``evaluate``'s score) loaded; return
    (history, the chosen epoch).

    ``evaluate(model, row)`` adds its columns to the epoch's history row and returns
    ``(score, done)``; a higher score is better; training stops at ``done`` or after ``patience``
    epochs without improvement. With ``resume_path`` the full state is written after every epoch and
    a rerun continues from it (the per-epoch shuffle is seeded by (seed, epoch), RNG states are saved).
    """
    optimizer = _optimizer(model, spec)
    state = _restore(resume_path, identity, model, optimizer)
    criterion = nn.BCEWithLogitsLoss() if spec["multilabel"] else nn.CrossEntropyLoss()
    progress = tqdm(
        range(state["epoch"], spec["epochs"]), desc=spec.get("name", "train"), unit="epoch"
    )
    for epoch in progress:
        if state["done"]:
            break
        started = time.perf_counter()
        row = _train_epoch(model, optimizer, criterion, train, spec, frames, epoch)
        score, done = evaluate(model, row)
        state["history"].append(row)
        state["epoch"] = epoch + 1
        _keep_best(state, model, score, done, spec["patience"])
        log.info(
            "epoch %d: %s (%.1f s)",
            epoch + 1,
            ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"),
            time.perf_counter() - started,
        )
        if resume_path is not None:
            _save_resume(resume_path, identity, model, optimizer, state)
    if state["best"] is not None:
        model.load_state_dict(state["best"])
        log.info("best epoch %d of %d", state["best_epoch"], state["epoch"])
    return state["history"], state["best_epoch"]


# ---- rule entry points -----------------------------------------------------------------------------


def _prepare(spec: dict, threads: int, datasets: dict) -> tuple[torch.device, dict]:
    """The device, and the packs: in memory when they fit ``memory_budget_mb``, else streamed."""
    check_spec(spec)
    device = resolve_device(spec["device"])
    threads = spec.get("num_threads") or threads
    seed_everything(int(spec["seed"]), device, threads)
    required = ("x", "y", "y_multi", "mean", "std")
    return device, read_packs(datasets, spec.get("memory_budget_mb"), required)


def _check_compatible(name: str, reference: dict, other: dict, path) -> None:
    if other["genres"] != reference["genres"] or other["x"].shape[1:] != reference["x"].shape[1:]:
        raise ValueError(
            f"{path}: genres or [C, T] differ from the training pack of model '{name}'. "
            "Fix: rerun pack_dataset so all three splits come from one run."
        )


def _model_packs(datasets: dict, spec: dict, packs: dict) -> dict:
    """The three splits' packs as this model uses them: single-label models keep labelled tracks."""
    for split in ("validation", "test"):
        _check_compatible(spec["name"], packs["training"], packs[split], datasets[split])
    if spec["multilabel"]:
        return packs
    return {split: select_rows(pack, pack["y"] >= 0) for split, pack in packs.items()}


def _validation_score(data: dict, frames: int, multilabel: bool):
    """The early-stopping ``evaluate`` of :func:`fit`: validation accuracy (multi-label: mean
    average precision), ties broken by the lower validation loss."""
    validation = data["validation"]

    def evaluate(model, row):
        logits, _ = predict(model, validation, frames, multilabel)
        loss = _loss(logits if multilabel else torch.log_softmax(logits, 1), validation, multilabel)
        row.update(val_loss=loss, val_accuracy=accuracy_of(logits, validation.y))
        if not multilabel:
            return (row["val_accuracy"], -loss), False
        truth, scores = validation.y_multi.cpu().numpy(), logits.cpu().numpy()
        present = truth.sum(axis=0) > 0
        row["val_map"] = float(average_precision_score(truth[:, present], scores[:, present]))
        return (row["val_map"], -loss), False

    return evaluate


def _checkpoint_info(spec: dict, pack: dict, frames: int) -> dict:
    _, channels, total = pack["x"].shape
    return {
        "spec": spec,
        "genres": pack["genres"],
        "feature_set": pack["feature_set"],
        "mean": torch.from_numpy(pack["mean"]),
        "std": torch.from_numpy(pack["std"]),
        "input_shape": [channels, frames],
        "bands": pack["bands"],
        "frames": total,
        **pack["params"],
    }


def train_model(
    datasets: dict, spec: dict, outputs: dict, threads: int = 1, tracks: str | None = None
) -> dict:
    """Train one configured model; write checkpoint, history and metrics (figures: see
    :func:`fmagenre.figures.models.training_figures`). ``tracks``: ``results/splits/tracks.tsv``,
    whose ``artist_id`` groups the bootstrap of the test metrics (None: every track alone)."""
    device, packs = _prepare(spec, threads, {split: datasets[split] for split in SPLITS})
    packs = _model_packs(datasets, spec, packs)
    train_pack = packs["training"]
    frames = segment_frames(spec, train_pack)
    data = {
        split: make_split(pack, train_pack["mean"], train_pack["std"], device)
        for split, pack in packs.items()
    }
    _, channels, total = train_pack["x"].shape
    model = build_model(spec, channels, frames, len(train_pack["genres"])).to(device)
    multilabel = bool(spec["multilabel"])
    log.info(
        "model %s: %s on %s [%d x %d], %d parameters, %d training tracks x %d segments, device %s",
        spec["name"],
        spec["arch"],
        train_pack["feature_set"],
        channels,
        frames,
        sum(p.numel() for p in model.parameters()),
        len(data["training"].y),
        total // frames,
        device,
    )
    checkpoint_path = Path(outputs["checkpoint"])
    resume_path = checkpoint_path.parent / RESUME_NAME
    identity = {"spec": spec, "shape": list(train_pack["x"].shape), "genres": train_pack["genres"]}
    evaluate = _validation_score(data, frames, multilabel)
    history, chosen = fit(model, data["training"], spec, frames, evaluate, resume_path, identity)
    predictions = {
        split: predict(model, data[split], frames, multilabel) for split in ("validation", "test")
    }
    metrics = model_metrics(spec, packs, predictions, history, chosen, tracks)
    save_checkpoint(checkpoint_path, model, _checkpoint_info(spec, train_pack, frames))
    write_csv(outputs["history"], pd.DataFrame(history))
    write_json(outputs["metrics"], metrics)
    resume_path.unlink(missing_ok=True)
    return metrics


def write_csv(path, frame: pd.DataFrame) -> None:
    """history.csv is comma-separated, as its documented name says; written atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def overfit_check(training: str, spec: dict, output: str, threads: int = 1) -> dict:
    """Train on ``overfit_samples`` training tracks without dropout or weight decay; report whether the
    training accuracy reaches ``overfit_target`` (the paper found its model could not, by hand)."""
    spec = {
        **spec,
        "dropout": 0.0,
        "weight_decay": 0.0,
        "epochs": spec["overfit_epochs"],
        "patience": spec["overfit_epochs"],
    }
    device, packs = _prepare(spec, threads, {"training": training})
    pack = packs["training"]
    if not spec["multilabel"]:
        pack = select_rows(pack, pack["y"] >= 0)
    generator = torch.Generator().manual_seed(int(spec["seed"]))
    n = len(pack["y"])
    index = torch.randperm(n, generator=generator)[: min(spec["overfit_samples"], n)].sort().values
    data = make_split(pack, pack["mean"], pack["std"], device).subset(index)
    frames = segment_frames(spec, pack)
    model = build_model(spec, pack["x"].shape[1], frames, len(pack["genres"])).to(device)
    multilabel = bool(spec["multilabel"])

    def evaluate(model, row):
        logits, _ = predict(model, data, frames, multilabel)
        accuracy = accuracy_of(logits, data.y)
        row["eval_train_accuracy"] = accuracy
        return accuracy, accuracy >= spec["overfit_target"]

    history, _ = fit(model, data, spec, frames, evaluate)
    best = max(row["eval_train_accuracy"] for row in history)
    result = {
        "reached": bool(best >= spec["overfit_target"]),
        "final_train_accuracy": history[-1]["eval_train_accuracy"],
        "best_train_accuracy": best,
        "epochs": len(history),
        "samples": len(index),
        "target": spec["overfit_target"],
    }
    write_json(output, result)
    log.info("overfit check %s: %s", spec["name"], result)
    return result
