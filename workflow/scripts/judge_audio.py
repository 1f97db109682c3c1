"""Rules judge_audio and judge_listening: musicnn's tags of every start's round-trip clip
(results/judge/audio/{model}.tsv, read by the quality checks) and of the listening WAVs
(results/judge/audio/{model}/listening.tsv)."""

import torch

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.judge.tracks import judge_wavs  # noqa: E402

torch.set_num_threads(snakemake.threads)
judge_wavs(
    wavs=list(snakemake.input.wavs),
    model=snakemake.params.model,
    weights_dir=snakemake.params.weights_dir,
    out_tsv=snakemake.output.tags,
    root=snakemake.params.root,
)
