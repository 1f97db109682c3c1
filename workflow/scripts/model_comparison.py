"""Rule model_comparison: test accuracy of each model over its seed replicates, with the baseline."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.models import comparison_figure  # noqa: E402

comparison_figure(summary_tsv=snakemake.input.summary, output=snakemake.output.figure)
