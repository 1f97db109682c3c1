"""Checkpoint splits: train/validation/test of the validated tracks, and the label order."""

from fmagenre.io import read_tsv, setup_logging, write_tsv

setup_logging(snakemake.log[0])

from fmagenre.data.splits import make_splits  # noqa: E402

settings = snakemake.params.splits
tracks, genres = make_splits(
    read_tsv(snakemake.input.table, dtype={"folder": str}),
    read_tsv(snakemake.input.report),
    use_official=settings["use_official"],
    keep_genres=settings["keep_genres"],
    drop_genres=settings["drop_genres"],
    min_tracks_per_genre=settings["min_tracks_per_genre"],
    seed=settings["seed"],
)
write_tsv(snakemake.output.tracks, tracks)
write_tsv(snakemake.output.genres, genres)
