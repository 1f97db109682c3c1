"""Rule data_report: the report's Data section (validation status figure, validation and genre tables)."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.eda import data_report  # noqa: E402

data_report(
    report_tsv=snakemake.input.report,
    genres_tsv=snakemake.input.genres,
    outputs=dict(snakemake.output.items()),
)
