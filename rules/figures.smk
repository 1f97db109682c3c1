# Exploratory figures (metadata and mean mel spectrograms) and the report's Data section.


rule eda_metadata:
    input:
        table="results/metadata/tracks.tsv",
        tracks="results/splits/tracks.tsv",
        genres="results/splits/genres.tsv",
    output:
        **{name: eda_output(name, "Metadata") for name in EDA_METADATA},
    log:
        "logs/eda_metadata.log",
    benchmark:
        "benchmarks/eda_metadata.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=fingerprint("eda_metadata"),
    script:
        "../workflow/scripts/eda_metadata.py"


rule eda_mel:
    input:
        tracks="results/splits/tracks.tsv",
        manifests=folder_manifests,
    output:
        **{name: eda_output(name, "Mean mel spectrograms") for name in EDA_MEL},
    log:
        "logs/eda_mel.log",
    benchmark:
        "benchmarks/eda_mel.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        baseline=config["figures"]["baseline_genre"],
        code=fingerprint("eda_mel"),
    script:
        "../workflow/scripts/eda_mel.py"


rule validation_status:
    input:
        report="results/validation/report.tsv",
    output:
        status=report(
            f"results/figures/data/validation_status.{FIG_EXT}",
            caption="../workflow/report/validation_status.rst",
            category="Data",
        ),
    log:
        "logs/validation_status.log",
    benchmark:
        "benchmarks/validation_status.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("validation_status"),
    script:
        "../workflow/scripts/validation_status.py"
