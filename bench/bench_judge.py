"""The musicnn judge's time per 30 s, 44.1 kHz stereo MP3 clip on CPU, beside the feature extractor.

Per clip: decode at 16 kHz + log-mel + all ten 3 s patches through MSD_musicnn (one batch), at 1 and
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

from bench_features import SR_IN, music, ours  # noqa: E402

from fmagenre.data.audio import decode, encode_mp3  # noqa: E402
from fmagenre.judge import musicnn  # noqa: E402

N_CLIPS, REPS, THREADS = 3, 2, (1, 2)


def judge(path: Path, net) -> None:
    signal, _ = decode(path, musicnn.SR)
    musicnn.run_patches(net, musicnn.patches(musicnn.logmel(signal, musicnn.SR)), ("taggram",))


def median_seconds(function, clips: list[Path]) -> float:
    times = []
    for _ in range(REPS):
        for clip in clips:
            start = time.perf_counter()
            function(clip)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


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
            result[f"judge_ms_{threads}_threads"] = 1e3 * median_seconds(
                lambda c: judge(c, net), clips
            )
            result[f"features_ms_{threads}_threads"] = 1e3 * median_seconds(ours, clips)
    print(f"per 30 s 44.1 kHz stereo MP3 clip, median of {N_CLIPS} clips x {REPS} runs:")
    for threads in THREADS:
        judge_ms, features_ms = (result[f"{k}_ms_{threads}_threads"] for k in ("judge", "features"))
        print(
            f"  {threads} thread(s): judge (MSD_musicnn, 10 patches) {judge_ms:8.1f} ms   "
            f"feature extractor {features_ms:8.1f} ms   ratio {judge_ms / features_ms:.1f}x"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
