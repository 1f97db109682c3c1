"""Rule train_model: train one configured model (or one seed replicate of it); write checkpoint,
history, metrics, then its figures."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.models import training_figures  # noqa: E402
from fmagenre.models.train import train_model  # noqa: E402

train_model(
    datasets={split: snakemake.input[split] for split in ("training", "validation", "test")},
    spec=dict(snakemake.params.spec),
    outputs={key: snakemake.output[key] for key in ("checkpoint", "history", "metrics")},
    threads=snakemake.threads,
    # The splits table groups the test bootstrap by artist; a rule without it bootstraps tracks.
    tracks=snakemake.input.get("tracks"),
)
training_figures(
    snakemake.output.history,
    snakemake.output.metrics,
    {key: snakemake.output[key] for key in ("curves", "confusion")},
    "{name} (seed {seed})".format(**snakemake.params.spec),
)
