"""Rule evolution_tables: periods.tsv and trends.tsv of one model."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.evolution.tables import evolution_tables  # noqa: E402

evolution_tables(
    scores_tsv=snakemake.input.scores,
    embeddings_h5=snakemake.input.embeddings,
    descriptors_tsv=snakemake.input.descriptors,
    judge_tsv=next(iter(snakemake.input.judge), None),  # none without judge_era
    gap_tsvs=list(snakemake.input.gap),
    params=dict(snakemake.params.evolution),
    periods_out=snakemake.output.periods,
    trends_out=snakemake.output.trends,
)
