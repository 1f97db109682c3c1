"""Rule evolution_scores: out-of-sample margins and embeddings of the followed tracks."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.evolution.measures import score_tracks  # noqa: E402

score_tracks(
    sources=[tuple(source) for source in snakemake.params.sources],
    followed_tsv=snakemake.input.followed,
    scores_out=snakemake.output.scores,
    embeddings_out=snakemake.output.embeddings,
)
