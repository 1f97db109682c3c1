"""Rule pack_dataset: stream per-track features into results/datasets/{feature_set}/{split}.h5."""

from pathlib import Path

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.data.pack import SPLITS, pack_dataset  # noqa: E402

pack_dataset(
    splits_tsv=snakemake.input.tracks,
    genres_tsv=snakemake.input.genres,
    manifest_tsvs=list(snakemake.input.manifests),
    features_dir=Path(snakemake.input.manifests[0]).parent.parent,
    feature_set=snakemake.wildcards.feature_set,
    frames=snakemake.params.frames,
    out_paths={split: snakemake.output[split] for split in SPLITS},
)
