"""Rule evolution_tracks: the followed tracks, their years and cross-fitting folds."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.evolution.folds import evolution_tracks  # noqa: E402

evolution_tracks(
    splits_tsv=snakemake.input.splits,
    metadata_tsv=snakemake.input.metadata,
    year_source=snakemake.params.year_source,
    folds=snakemake.params.folds,
    seed=snakemake.params.seed,
    output=snakemake.output.tracks,
)
