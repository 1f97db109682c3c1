"""Rule optimise_genre: activation maximisation of one genre -> results/optimise/{model}/{genre}.h5."""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

import torch  # noqa: E402

from fmagenre.data.pack import SPLITS  # noqa: E402
from fmagenre.optimise.maximise import OptimiseParams, optimise_genre  # noqa: E402

torch.set_num_threads(snakemake.threads)
optimise_genre(
    checkpoint=snakemake.input.checkpoint,
    datasets={split: snakemake.input[split] for split in SPLITS},
    scores_tsv=snakemake.input.scores,
    genre=snakemake.wildcards.genre,
    output=snakemake.output.h5,
    params=OptimiseParams.from_config(snakemake.params.optimise),
    budget_mb=snakemake.params.budget_mb,
)
