"""Rule quality_figure: the realism checks per genre and start, each genre's verdict in its title."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.optimise import quality_figure  # noqa: E402

quality_figure(
    snakemake.input.quality,
    snakemake.input.gap,
    snakemake.output.figure,
    model=snakemake.wildcards.model,
)
