"""Rule model_comparison: each model's test accuracy over its seed replicates, and the baseline."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.models import comparison_figure  # noqa: E402

comparison_figure(summary_tsv=snakemake.input.summary, output=snakemake.output.figure)
