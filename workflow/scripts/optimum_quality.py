"""Rule optimum_quality: realism checks and verdict per genre and start -> results/optimise/{model}/quality.tsv."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

import torch  # noqa: E402

from fmagenre.data.pack import SPLITS  # noqa: E402
from fmagenre.optimise.quality import JudgeTags, Thresholds, quality_table  # noqa: E402

torch.set_num_threads(snakemake.threads)
quality_table(
    checkpoint=snakemake.input.checkpoint,
    datasets={split: snakemake.input[split] for split in SPLITS},
    optimum_h5s=list(snakemake.input.optima),
    roundtrip_tsvs=list(snakemake.input.roundtrips),
    transfer=dict(zip(snakemake.params.transfer_names, snakemake.input.transfer)),
    output=snakemake.output.quality,
    thresholds=Thresholds.from_config(snakemake.params.thresholds),
    budget_mb=snakemake.params.budget_mb,
    judge=JudgeTags.read(
        snakemake.input.judge_audio, snakemake.input.judge_tracks, snakemake.params.genre_tags
    ),
)
