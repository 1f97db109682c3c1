"""Rule model_summary: a row per model and replicate: test metrics, intervals, baseline, flags."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.models.report import summarise  # noqa: E402

summarise(
    metrics_paths=list(snakemake.input.metrics),
    overfit_paths=list(snakemake.input.overfit),
    specs=dict(snakemake.params.specs),
    output=snakemake.output.summary,
)
