"""Rule judge_tracks: results/judge/tracks.tsv, the mean musicnn tag probabilities per track."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.judge.tracks import judge_tracks  # noqa: E402

judge_tracks(
    manifest_tsvs=list(snakemake.input.manifests),
    model=snakemake.params.model,
    weights_dir=snakemake.params.weights_dir,
    out_tsv=snakemake.output.tracks,
)
