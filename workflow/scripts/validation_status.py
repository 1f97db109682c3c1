"""Rule validation_status: tracks per validation status, the figure of the report's Data section."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.eda import validation_status_figure  # noqa: E402

validation_status_figure(report_tsv=snakemake.input.report, path=snakemake.output.status)
