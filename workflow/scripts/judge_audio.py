"""Rule judge_audio: results/judge/audio/{model}.tsv, musicnn's tags of every start's round-trip
clip (results/audio/{model}/starts/{genre}/), read by the quality checks."""

import torch

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.judge.tracks import judge_wavs  # noqa: E402

torch.set_num_threads(snakemake.threads)
judge_wavs(
    wavs=list(snakemake.input.starts),
    model=snakemake.params.model,
    weights_dir=snakemake.params.weights_dir,
    out_tsv=snakemake.output.tags,
    root=snakemake.params.root,
)
