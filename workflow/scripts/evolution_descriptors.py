"""Rule evolution_descriptors: spectral centroid, tempo, onset rate and loudness per followed track."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.evolution.measures import descriptor_table  # noqa: E402

descriptor_table(
    packs=list(snakemake.input.packs),
    followed_tsv=snakemake.input.followed,
    output=snakemake.output.descriptors,
)
