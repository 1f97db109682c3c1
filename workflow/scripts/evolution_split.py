"""Rule evolution_split: the split table of one fold model (or of the temporal model, fold None)."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.evolution.folds import write_fold_splits  # noqa: E402

write_fold_splits(
    splits_tsv=snakemake.input.splits,
    followed_tsv=snakemake.input.followed,
    fold=snakemake.params.fold,
    k=snakemake.params.folds,
    seed=snakemake.params.seed,
    output=snakemake.output.tracks,
)
