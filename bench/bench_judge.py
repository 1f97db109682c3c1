"""The musicnn judge's time per 30 s, 44.1 kHz stereo MP3 clip on CPU, beside the feature extractor.

Per clip (median wall and process-CPU time): decode at 16 kHz + log-mel + all ten 3 s patches
through MSD_musicnn (one batch), at 1 and
2 torch threads; in the same run and on the same clips, the feature extractor (bench_features'
"ours": decode at 22,050 Hz + one-STFT features). Needs ``make setup`` (the weights).
Run: ``.venv/bin/python bench/bench_judge.py``. Last line: one JSON object (bench/run_all.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from bench_features import SR_IN, music, ours

from fmagenre.data.audio import decode, encode_mp3
from fmagenre.judge import musicnn

N_CLIPS, REPS, THREADS = 3, 2, (1, 2)


def judge(path: Path, net) -> None:
    signal, _ = decode(path, musicnn.SR)
    musicnn.run_patches(net, musicnn.patches(musicnn.logmel(signal, musicnn.SR)), ("taggram",))


def median_seconds(function, clips: list[Path]) -> tuple[float, float]:
    """Median wall and process-CPU seconds per clip (CPU time is robust to a shared machine)."""
    wall, cpu = [], []
    for _ in range(REPS):
        for clip in clips:
            start, start_cpu = time.perf_counter(), time.process_time()
            function(clip)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    warnings.simplefilter("ignore")
    net, _ = musicnn.load("MSD_musicnn", device="cpu")
    result = {"clips": N_CLIPS, "repetitions": REPS, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        clips = [Path(tmp) / f"clip{seed}.mp3" for seed in range(N_CLIPS)]
        for seed, clip in enumerate(clips):
            encode_mp3(clip, music(seed), SR_IN)
        for threads in THREADS:
            torch.set_num_threads(threads)
            judge(clips[0], net)  # warm-up: oneDNN primitives, lazy imports
            ours(clips[0])
            for name, function in (("judge", lambda c: judge(c, net)), ("features", ours)):
                wall, cpu = median_seconds(function, clips)
                result[f"{name}_ms_{threads}_threads"] = 1e3 * wall
                result[f"{name}_cpu_ms_{threads}_threads"] = 1e3 * cpu
    print(f"per 30 s 44.1 kHz stereo MP3 clip, median of {N_CLIPS} clips x {REPS} runs:")
    for threads in THREADS:
        judge_ms, features_ms = (result[f"{k}_ms_{threads}_threads"] for k in ("judge", "features"))
        judge_cpu, features_cpu = (
            result[f"{k}_cpu_ms_{threads}_threads"] for k in ("judge", "features")
        )
        print(
            f"  {threads} thread(s): judge (MSD_musicnn, 10 patches) {judge_ms:7.1f} ms wall "
            f"({judge_cpu:7.1f} ms CPU); feature extractor {features_ms:6.1f} ms wall "
            f"({features_cpu:6.1f} ms CPU); wall ratio {judge_ms / features_ms:.1f}x"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
