"""Rule temporal_generalisation: early-trained model's accuracy on early vs late tracks per genre."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.evolution.temporal import temporal_generalisation  # noqa: E402

temporal_generalisation(
    checkpoint=snakemake.input.checkpoint,
    test_pack=snakemake.input.test,
    split_tsv=snakemake.input.split,
    n_boot=snakemake.params.bootstrap,
    seed=snakemake.params.seed,
    min_artists=snakemake.params.min_artists,
    output=snakemake.output.table,
)
