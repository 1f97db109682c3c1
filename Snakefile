# fmagenre: from the Free Music Archive (or its embedded synthetic stand-in) to genre classifiers,
# the most representative input per genre, and genre evolution. See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/optimise.smk"
include: "rules/judge.smk"
include: "rules/evolution.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        all_targets,


rule data_stage:
    input:
        data_targets,
