"""Rule start_roundtrip: every start of one genre inverted, re-extracted and re-scored (quality.tsv
input); the clips go to results/audio/{model}/starts/{genre}/ for the judge."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.optimise.audio import AudioParams, start_roundtrip  # noqa: E402

start_roundtrip(
    checkpoint=snakemake.input.checkpoint,
    optimum_h5=snakemake.input.optimum,
    output=snakemake.output.roundtrip,
    params=AudioParams.from_config(snakemake.params.audio),
    wav_dir=snakemake.output.wavs,
)
