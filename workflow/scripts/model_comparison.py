"""Rule model_comparison: bar chart of every model's accuracy against the majority baseline."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.models.train import comparison_figure  # noqa: E402

comparison_figure(summary=snakemake.input.summary, output=snakemake.output.figure)
