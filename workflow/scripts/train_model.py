"""Rule train_model: train one configured model; write checkpoint, history, metrics and figures."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.models.train import train_model  # noqa: E402

train_model(
    datasets={split: snakemake.input[split] for split in ("training", "validation", "test")},
    spec=dict(snakemake.params.spec),
    outputs={
        key: snakemake.output[key]
        for key in ("checkpoint", "history", "metrics", "curves", "confusion")
    },
    threads=snakemake.threads,
)
