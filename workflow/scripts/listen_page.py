"""Rule listen_page: in-page players for every genre's optimum and best real track (report Audio entry)."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.figures.listen import listen_page  # noqa: E402

mp3s = list(snakemake.input.mp3s)
listen_page(
    gap_tsv=snakemake.input.gap,
    mp3s=list(zip(mp3s[0::2], mp3s[1::2])),
    output=snakemake.output.page,
    model=snakemake.wildcards.model,
)
