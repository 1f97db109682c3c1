"""Rule evolution_pack: a fold's (or the temporal split's) packs as views of results/datasets/."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.data.pack import SPLITS, pack_view  # noqa: E402

pack_view(
    splits_tsv=snakemake.input.tracks,
    genres_tsv=snakemake.input.genres,
    source_paths=list(snakemake.input.sources),
    out_paths={split: snakemake.output[split] for split in SPLITS},
)
