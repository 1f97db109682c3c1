"""Rule gap_figure: optimum vs best real track per genre (bar chart)."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.optimise import gap_figure  # noqa: E402

gap_figure(snakemake.input.gap, snakemake.output.figure, model=snakemake.wildcards.model)
