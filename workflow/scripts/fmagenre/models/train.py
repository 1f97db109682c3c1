"""Training per model config: seeded, resumable, early-stopped on validation, honestly evaluated.

Segment models train on fixed-length windows of each clip (consecutive, with a random offset per
epoch) and predict a track by the mean log-probability of its consecutive windows.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from fmagenre.data.loader import make_split
from fmagenre.data.metadata import SPLITS
from fmagenre.data.pack import read_packs
from fmagenre.device import resolve_device
from fmagenre.io import atomic_path, read_tsv, write_json, write_tsv
from fmagenre.models.checkpoint import aggregate, save_checkpoint, segments
from fmagenre.models.metrics import classification_metrics, majority_vote, multilabel_metrics
from fmagenre.models.zoo import build_model

log = logging.getLogger("fmagenre.models")

REQUIRED = (
    "arch", "features", "optimizer", "lr", "lr_decay", "lr_schedule", "momentum", "weight_decay",
    "epochs", "batch_size", "patience", "dropout", "segment_seconds", "multilabel", "seed", "device",
)  # fmt: skip
RESUME_NAME = "resume.pt"
EVAL_BATCH = 256


# ---- data ------------------------------------------------------------------------------------------


def check_spec(spec: dict) -> None:
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise ValueError(
            f"model spec '{spec.get('name')}' lacks {missing}. Fix: pass the spec with the schema "
            "defaults filled in (rules/common.smk model_spec does this)."
        )


def segment_frames(spec: dict, pack: dict) -> int:
    """Model input length in frames: the whole clip, or ``segment_seconds`` worth of frames."""
    frames = pack["x"].shape[2]
    seconds = spec["segment_seconds"]
    if seconds is None:
        return frames
    count = int(round(seconds * pack["params"]["sr"] / pack["params"]["hop_length"]))
    if not 1 <= count <= frames:
        raise ValueError(
            f"model '{spec.get('name')}': segment_seconds={seconds} gives {count} frames, outside "
            f"1..{frames} (the packed clip length). Fix: choose a shorter segment or null."
        )
    return count


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
    """Exact fraction (count / n in float64), not a float32 mean."""
    return int((logits.argmax(dim=1) == y).sum()) / len(y)


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


def fit(
    model: nn.Module,
    train: Split,
    spec: dict,
    frames: int,
    evaluate,
    resume_path: Path | None = None,
    identity: dict | None = None,
) -> list[dict]:
    """Train ``model`` in place; leave the best state (by ``evaluate``'s score) loaded; return history.

    ``evaluate(model, row)`` adds its columns to the epoch's history row and returns
    ``(score, done)``; a higher score is better; training stops at ``done`` or after ``patience``
    epochs without improvement. With ``resume_path`` the full state is written after every epoch and
    a rerun continues from it (the per-epoch shuffle is seeded by (seed, epoch), RNG states are saved).
    """
    device, storage = train.device, train.storage
    multilabel = bool(spec["multilabel"])
    optimizer = _optimizer(model, spec)
    n, _, total = train.shape
    count = total // frames
    batches = -(-n * count // spec["batch_size"])
    state = {
        "epoch": 0,
        "history": [],
        "best": None,
        "best_score": None,
        "best_epoch": 0,
        "bad_epochs": 0,
        "done": False,
    }
    if resume_path is not None and resume_path.is_file():
        # On the CPU: RNG states must be CPU tensors; load_state_dict moves the rest to the model.
        saved = torch.load(resume_path, map_location="cpu", weights_only=True)
        if saved["identity"] == identity:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            _set_rng_state(saved["rng"])
            state = saved["state"]
            log.info("resumed from %s after epoch %d", resume_path, state["epoch"])
        else:
            log.warning("ignoring %s: it was written for another spec or dataset", resume_path)
    criterion = nn.BCEWithLogitsLoss() if multilabel else nn.CrossEntropyLoss()
    offsets_range = total - count * frames + 1
    within = torch.arange(frames, device=storage)
    progress = tqdm(
        range(state["epoch"], spec["epochs"]), desc=spec.get("name", "train"), unit="epoch"
    )
    for epoch in progress:
        if state["done"]:
            break
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(int(spec["seed"]) * 1_000_003 + epoch)
        offsets = torch.randint(0, offsets_range, (n,), generator=generator).to(storage)
        order = torch.randperm(n * count, generator=generator).to(storage)
        model.train()
        loss_sum, correct = 0.0, 0
        size = spec["batch_size"]
        steps = [order[start : start + size] for start in range(0, len(order), size)]
        # (track, first frame) of every window of every batch; a streamed split reads ahead.
        where = ((b // count, offsets[b // count] + (b % count) * frames) for b in steps)
        bar = tqdm(zip(steps, train.batches(where, within)), total=len(steps),
                   desc=f"epoch {epoch + 1}", unit="batch", leave=False, mininterval=30)  # fmt: skip
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
            correct += int((out.argmax(dim=1) == train.y[track].to(device)).sum())
        row = {
            "epoch": epoch + 1,
            "lr": learning_rate(spec, epoch, epoch * batches),
            "train_loss": loss_sum / len(order),
            "train_accuracy": correct / len(order),
        }
        score, done = evaluate(model, row)
        state["history"].append(row)
        if state["best_score"] is None or score > state["best_score"]:
            state["best_score"], state["bad_epochs"] = score, 0
            state["best"] = {
                key: value.detach().clone() for key, value in model.state_dict().items()
            }
            state["best_epoch"] = epoch + 1
        else:
            state["bad_epochs"] += 1
        state["done"] = done or state["bad_epochs"] >= spec["patience"]
        state["epoch"] = epoch + 1
        log.info(
            "epoch %d: %s (%.1f s)",
            epoch + 1,
            ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"),
            time.perf_counter() - started,
        )
        if resume_path is not None:
            payload = {
                "identity": identity,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": _rng_state(),
                "state": state,
            }
            with atomic_path(resume_path) as tmp:
                torch.save(payload, tmp)
    if state["best"] is not None:
        model.load_state_dict(state["best"])
        log.info("best epoch %d of %d", state["best_epoch"], state["epoch"])
    return state["history"]


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


def train_model(datasets: dict, spec: dict, outputs: dict, threads: int = 1) -> dict:
    """Train one configured model and write checkpoint, history, metrics and the two figures."""
    from fmagenre.figures.models import plot_confusion, plot_curves

    device, packs = _prepare(spec, threads, {split: datasets[split] for split in SPLITS})
    train_pack = packs["training"]
    for split in ("validation", "test"):
        _check_compatible(spec["name"], train_pack, packs[split], datasets[split])
    genres = train_pack["genres"]
    frames = segment_frames(spec, train_pack)
    mean, std = train_pack["mean"], train_pack["std"]
    data = {split: make_split(pack, mean, std, device) for split, pack in packs.items()}
    _, channels, total = train_pack["x"].shape
    model = build_model(spec, channels, frames, len(genres)).to(device)
    multilabel = bool(spec["multilabel"])
    log.info(
        "model %s: %s on %s [%d x %d], %d parameters, %d training tracks x %d segments, device %s",
        spec["name"], spec["arch"], train_pack["feature_set"], channels, frames,
        sum(p.numel() for p in model.parameters()), len(data["training"].y), total // frames, device,
    )  # fmt: skip

    def evaluate(model, row):
        logits, _ = predict(model, data["validation"], frames, multilabel)
        accuracy = accuracy_of(logits, data["validation"].y)
        loss = _loss(
            logits if multilabel else torch.log_softmax(logits, 1), data["validation"], multilabel
        )
        row.update(val_loss=loss, val_accuracy=accuracy)
        return (accuracy, -loss), False

    checkpoint_path = Path(outputs["checkpoint"])
    resume_path = checkpoint_path.parent / RESUME_NAME
    identity = {"spec": spec, "shape": list(train_pack["x"].shape), "genres": genres}
    history = fit(model, data["training"], spec, frames, evaluate, resume_path, identity)

    val_logits, _ = predict(model, data["validation"], frames, multilabel)
    test_logits, test_segments = predict(model, data["test"], frames, multilabel)
    test_y = packs["test"]["y"]
    metrics = classification_metrics(test_y, test_logits.cpu().numpy(), genres, train_pack["y"])
    metrics["val_accuracy"] = accuracy_of(val_logits, data["validation"].y)
    metrics = {
        "test_accuracy": metrics.pop("test_accuracy"),
        "val_accuracy": metrics.pop("val_accuracy"),
        **metrics,
    }
    if test_segments.shape[1] > 1:
        votes = majority_vote(test_segments.cpu().numpy())
        metrics["majority_vote_accuracy"] = float((votes == test_y).mean())
    if multilabel:
        metrics.update(multilabel_metrics(packs["test"]["y_multi"], test_logits.cpu().numpy()))
    metrics["epochs_trained"] = len(history)

    info = {
        "spec": spec,
        "genres": genres,
        "feature_set": train_pack["feature_set"],
        "mean": torch.from_numpy(mean),
        "std": torch.from_numpy(std),
        "input_shape": [channels, frames],
        "bands": train_pack["bands"],
        "frames": total,
        **train_pack["params"],
    }
    save_checkpoint(checkpoint_path, model, info)
    frame = pd.DataFrame(history)
    write_csv(outputs["history"], frame)
    write_json(outputs["metrics"], metrics)
    plot_curves(frame, outputs["curves"], spec["name"])
    plot_confusion(
        np.array(metrics["confusion_matrix"]), genres, outputs["confusion"], spec["name"]
    )
    resume_path.unlink(missing_ok=True)
    log.info(
        "model %s: test accuracy %.3f (majority baseline %.3f), collapsed %s",
        spec["name"], metrics["test_accuracy"], metrics["majority_baseline_accuracy"], metrics["collapsed"],
    )  # fmt: skip
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

    history = fit(model, data, spec, frames, evaluate)
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


SUMMARY_COLUMNS = [
    "model", "arch", "features", "test_accuracy", "val_accuracy", "balanced_accuracy", "macro_f1",
    "log_loss", "majority_baseline_accuracy", "collapsed", "overfit_reached",
]  # fmt: skip
# Only some models have these (segment models, multi-label models): empty cells for the others.
OPTIONAL_COLUMNS = ["majority_vote_accuracy", "multilabel_map", "epochs_trained"]


def summarise(
    metrics_paths: list[str], overfit_paths: list[str], specs: dict, output: str
) -> pd.DataFrame:
    """One row per model (the folder name of its metrics.json) -> summary.tsv."""
    overfit = {Path(path).parent.name: json.loads(Path(path).read_text()) for path in overfit_paths}
    rows = []
    for path in metrics_paths:
        name = Path(path).parent.name
        metrics = json.loads(Path(path).read_text())
        spec = specs[name]
        row = {"model": name, "arch": spec["arch"], "features": spec["features"]}
        row.update({key: metrics[key] for key in SUMMARY_COLUMNS[3:-1]})
        row["overfit_reached"] = overfit[name]["reached"] if name in overfit else None
        row.update({key: metrics.get(key) for key in OPTIONAL_COLUMNS})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS + OPTIONAL_COLUMNS)
    write_tsv(output, frame)
    return frame


def comparison_figure(summary: str, output: str) -> None:
    from fmagenre.figures.models import plot_comparison

    plot_comparison(read_tsv(summary), output)
