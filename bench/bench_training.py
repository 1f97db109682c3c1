"""Training throughput (samples/s of a full train step: forward, backward, optimiser) per default model.

Models and their hyperparameters come from config/config.yaml (schema defaults filled in); inputs have
the real default shapes (30 s clips = 1294 frames; mfcc 20 bands, mfcc+chroma+tonnetz 38, mel 128; segment
models see ``segment_seconds`` windows). CPU runs as training does (deterministic algorithms) with 1 and
2 threads; CUDA, when visible, with bf16 autocast as training uses it.
Run: ``.venv/bin/python bench/bench_training.py``. Last line: one JSON object (bench/run_all.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from fmagenre.config import validate_config  # noqa: E402
from fmagenre.models.zoo import build_model  # noqa: E402

BANDS = {"mfcc": 20, "mfcc+chroma": 32, "mfcc+chroma+tonnetz": 38, "mel": 128}
CLIP_FRAMES, SR, HOP, GENRES = 1294, 22050, 512, 8
WARMUP, MIN_SECONDS = 2, 3.0


def default_specs() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate_config(config)
    return {
        name: {**config["training"], **model, "name": name}
        for name, model in config["models"].items()
    }


def train_step_rate(spec: dict, device: torch.device) -> tuple[float, int, list[int]]:
    """Samples/s of repeated train steps on one random batch of the model's real input shape."""
    frames = (
        CLIP_FRAMES
        if spec["segment_seconds"] is None
        else round(spec["segment_seconds"] * SR / HOP)
    )
    channels = BANDS[spec["features"]]
    model = build_model(spec, channels, frames, GENRES).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(spec["batch_size"], channels, frames, device=device)
    y = torch.randint(0, GENRES, (spec["batch_size"],), device=device)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < MIN_SECONDS:
        step()
        steps += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (
        steps * spec["batch_size"] / (time.perf_counter() - start),
        sum(p.numel() for p in model.parameters()),
        [channels, frames],
    )


def main() -> None:
    torch.utils.deterministic.fill_uninitialized_memory = False
    settings = [("cpu", 1), ("cpu", 2)] + ([("cuda", None)] if torch.cuda.is_available() else [])
    results: dict = {}
    print(
        f"{'model':<16} {'arch':<7} {'input [C, T]':<14} {'params':>9} "
        + " ".join(f"{d}{t or '':<4}".rjust(12) for d, t in settings)
    )
    for name, spec in default_specs().items():
        rates = {}
        for device_name, threads in settings:
            torch.use_deterministic_algorithms(device_name == "cpu")
            if threads:
                torch.set_num_threads(threads)
            rate, params, shape = train_step_rate(spec, torch.device(device_name))
            rates[f"{device_name}{threads or ''}"] = round(rate, 1)
        results[name] = {
            "arch": spec["arch"],
            "input": shape,
            "params": params,
            "samples_per_s": rates,
        }
        print(
            f"{name:<16} {spec['arch']:<7} {str(shape):<14} {params:>9} "
            + " ".join(f"{r:>12.1f}" for r in rates.values())
        )
    print("(samples/s of train steps, batch size from the spec; cpuN = N torch threads)")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(json.dumps({"cuda_device": device, "models": results}))


if __name__ == "__main__":
    main()
