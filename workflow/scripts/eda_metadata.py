"""Rule eda_metadata: genre co-occurrence, genres per track, tracks per split and per year."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.eda import metadata_figures  # noqa: E402

metadata_figures(
    table_tsv=snakemake.input.table,
    splits_tsv=snakemake.input.tracks,
    genres_tsv=snakemake.input.genres,
    outputs=dict(snakemake.output.items()),
)
