"""Rule representativeness_gap: optimum vs best real track per genre -> results/optimise/{model}/gap.tsv."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.optimise.scores import gap_table  # noqa: E402

gap_table(
    scores_tsv=snakemake.input.scores,
    optimum_h5s=list(snakemake.input.optima),
    output=snakemake.output.gap,
)
