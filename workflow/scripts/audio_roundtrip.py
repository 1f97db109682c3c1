"""Rule audio_roundtrip: re-extract and re-score every WAV -> results/audio/{model}/roundtrip.tsv."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.optimise.audio import AudioParams, audio_roundtrip  # noqa: E402

wavs = list(snakemake.input.wavs)
audio_roundtrip(
    checkpoint=snakemake.input.checkpoint,
    optimum_h5s=list(snakemake.input.optima),
    gap_tsv=snakemake.input.gap,
    wavs=list(zip(wavs[0::2], wavs[1::2])),
    output=snakemake.output.roundtrip,
    params=AudioParams.from_config(snakemake.params.audio),
)
