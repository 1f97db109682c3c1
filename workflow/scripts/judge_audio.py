"""Rule judge_audio: results/judge/audio/{model}.tsv, musicnn's tags of each optimum/best WAV."""

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
)
