"""Rule validation_report: merge the folder tables into results/validation/report.tsv."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.data.validate import validation_report  # noqa: E402

validation_report(
    table_tsv=snakemake.input.table,
    folder_tsvs=list(snakemake.input.folders),
    out_tsv=snakemake.output.report,
    audio_dir=snakemake.params.audio_dir,
)
