"""Rule synthesize: write the embedded synthetic FMA (metadata, MP3s, ground truth)."""

from pathlib import Path

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.data.synth import generate  # noqa: E402

settings = snakemake.params.synthetic
generate(
    metadata_dir=Path(snakemake.output.tracks).parent,
    audio_dir=snakemake.output.audio,
    preset=settings["preset"],
    tracks_per_genre=settings["tracks_per_genre"],
    clip_seconds=settings["clip_seconds"],
    seed=settings["seed"],
    faults=settings["faults"],
    audio=settings["audio"],
    n_tracks=settings["n_tracks"],
    drift_scale=settings["drift_scale"],
    workers=snakemake.threads,
)
