"""Rule optimised_inputs_figure: the optimised input of every genre, one panel each."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.optimise import optimised_inputs_figure  # noqa: E402

optimised_inputs_figure(
    list(snakemake.input.optima),
    snakemake.input.gap,
    snakemake.output.figure,
    model=snakemake.wildcards.model,
)
