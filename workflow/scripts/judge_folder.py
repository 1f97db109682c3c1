"""Rule judge_folder: musicnn tags and embedding of every ok track of one folder (incremental)."""

from pathlib import Path

import torch

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.judge.tracks import judge_folder  # noqa: E402

torch.set_num_threads(snakemake.threads)
judge_folder(
    validation_tsv=snakemake.input.validation,
    audio_dir=snakemake.params.audio_dir,
    judge_dir=Path(snakemake.output.manifest).parent.parent,
    folder=snakemake.wildcards.folder,
    model=snakemake.params.model,
    weights_dir=snakemake.params.weights_dir,
    manifest_out=snakemake.output.manifest,
    batch_patches=snakemake.params.batch_patches,
    max_patches=snakemake.params.max_patches,
)
