"""Rule extract_folder: validate and extract the features of one audio folder (incremental)."""

from pathlib import Path

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.features.store import extract_folder  # noqa: E402

extract_folder(
    track_ids=snakemake.params.track_ids,
    audio_dir=snakemake.params.audio_dir,
    features_dir=Path(snakemake.output.manifest).parent.parent,
    folder=snakemake.wildcards.folder,
    params=snakemake.params.features,
    validation_params=snakemake.params.validation,
    validation_out=snakemake.output.validation,
    manifest_out=snakemake.output.manifest,
)
