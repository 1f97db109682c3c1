"""Rule evolution_figure: per-genre score and centroid lines over release periods."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.optimise import evolution_figure  # noqa: E402

evolution_figure(snakemake.input.evolution, snakemake.output.figure, model=snakemake.wildcards.model)
