"""fmagenre: FMA genre classification, input optimisation and genre evolution (no Snakemake import)."""
