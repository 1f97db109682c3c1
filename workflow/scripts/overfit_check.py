"""Rule overfit_check: can the model reach 95% training accuracy on 100 samples without regularisation?"""

from fmagenre.io import setup_logging

setup_logging(snakemake.log[0])

from fmagenre.models.train import overfit_check  # noqa: E402

overfit_check(
    training=snakemake.input.training,
    spec=dict(snakemake.params.spec),
    output=snakemake.output.overfit,
    threads=snakemake.threads,
)
