"""Rule evolution_figures: one figure per measure with CI bands and the verdict per genre."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.evolution.tables import MEASURES  # noqa: E402
from fmagenre.figures.evolution import evolution_figures  # noqa: E402

evolution_figures(
    periods_tsv=snakemake.input.periods,
    trends_tsv=snakemake.input.trends,
    outputs={measure: snakemake.output[measure] for measure in MEASURES},
    model=snakemake.wildcards.model,
)
