"""Rule eda_mel: mean mel spectrogram per genre and each genre's difference to the baseline genre."""

from pathlib import Path

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.eda import mel_figures  # noqa: E402

mel_figures(
    splits_tsv=snakemake.input.tracks,
    manifest_tsvs=list(snakemake.input.manifests),
    features_dir=Path(snakemake.input.manifests[0]).parent.parent,
    baseline=snakemake.params.baseline,
    outputs=dict(snakemake.output.items()),
)
