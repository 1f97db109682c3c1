"""Checkpoint track_table: the chosen subset's tracks, folders and labels from FMA's metadata."""

from fmagenre.io import setup_logging, write_tsv

setup_logging(snakemake.log[0])

from fmagenre.data.metadata import build_track_table  # noqa: E402

table, genres = build_track_table(
    snakemake.input.tracks, snakemake.input.genres, snakemake.params.subset
)
write_tsv(snakemake.output.table, table)
write_tsv(snakemake.output.genres, genres)
