"""Rule invert_genre: the optimum and the best real track of one genre -> WAVs in results/audio/{model}/."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.optimise.audio import AudioParams, invert_genre  # noqa: E402

invert_genre(
    optimum_h5=snakemake.input.optimum,
    gap_tsv=snakemake.input.gap,
    output=snakemake.output.wav,
    output_best=snakemake.output.best,
    params=AudioParams.from_config(snakemake.params.audio),
    mp3s=(snakemake.output.mp3, snakemake.output.best_mp3),
)
