"""Rule representativeness_gap: headline start vs best real track per genre -> results/optimise/{model}/gap.tsv."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.optimise.gap import gap_table  # noqa: E402

gap_table(
    quality_tsv=snakemake.input.quality,
    optimum_h5s=list(snakemake.input.optima),
    output=snakemake.output.gap,
)
