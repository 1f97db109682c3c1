"""Rule evolution_figures: one figure per measure with CI bands and the verdict per genre."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.evolution import evolution_figures  # noqa: E402

evolution_figures(
    periods_tsv=snakemake.input.periods,
    trends_tsv=snakemake.input.trends,
    outputs=dict(snakemake.output.items()),  # one figure per measure of the run
    model=snakemake.wildcards.model,
)
