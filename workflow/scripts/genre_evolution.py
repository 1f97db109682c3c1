"""Rule genre_evolution: per genre and release period -> results/optimise/{model}/evolution.tsv."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.data.pack import SPLITS  # noqa: E402
from fmagenre.optimise.scores import evolution_table  # noqa: E402

evolution_table(
    checkpoint=snakemake.input.checkpoint,
    datasets={split: snakemake.input[split] for split in SPLITS},
    scores_tsv=snakemake.input.scores,
    optimum_h5s=list(snakemake.input.optima),
    output=snakemake.output.evolution,
    period_years=snakemake.params.period_years,
    periods=snakemake.params.periods,
)
