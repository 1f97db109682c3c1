"""Rule optimum_comparison_figure: each genre's headline optimum beside its best and a typical real track."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.optimise import optimum_comparison_figure  # noqa: E402

optimum_comparison_figure(
    list(snakemake.input.optima),
    snakemake.input.gap,
    snakemake.output.figure,
    model=snakemake.wildcards.model,
)
