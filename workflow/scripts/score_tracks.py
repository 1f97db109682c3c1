"""Rule score_tracks: one model's logits for every packed track -> results/optimise/{model}/track_scores.tsv."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.data.pack import SPLITS  # noqa: E402
from fmagenre.optimise.scores import score_tracks  # noqa: E402

score_tracks(
    checkpoint=snakemake.input.checkpoint,
    datasets={split: snakemake.input[split] for split in SPLITS},
    tracks_tsv=snakemake.input.tracks,
    output=snakemake.output.scores,
    budget_mb=snakemake.params.budget_mb,
)
