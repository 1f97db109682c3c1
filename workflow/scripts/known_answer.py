"""Rule known_answer: headline optima against the synthetic genres' planted signatures (known_answer.tsv)."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.data.pack import SPLITS  # noqa: E402
from fmagenre.optimise.known_answer import known_answer  # noqa: E402

known_answer(
    datasets={split: snakemake.input[split] for split in SPLITS},
    optimum_h5s=list(snakemake.input.optima),
    gap_tsv=snakemake.input.gap,
    ground_truth=snakemake.input.ground_truth,
    output=snakemake.output.known,
)
