# Exploratory figures (metadata and mean mel spectrograms) and the report's Data section.

EDA_METADATA = [
    "genre_cooccurrence",
    "genres_per_track",
    "tracks_per_split",
    "tracks_per_year",
]
EDA_MEL = ["mean_mel", "mel_difference"]


def eda_output(name, subcategory):
    return report(
        f"results/figures/eda/{name}.{FIG_EXT}",
        caption=f"../workflow/report/{name}.rst",
        category="Exploration",
        subcategory=subcategory,
    )


def data_report_targets():
    """The report's Data figure (not in figure_targets: add it to the default target).

    The tables of the Data section, results/validation/report.tsv and results/splits/genres.tsv, are
    wrapped by their own rules in data.smk.
    """
    return [f"results/figures/data/validation_status.{FIG_EXT}"]


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
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("figures.eda", "figures.common"),
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
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        features_dir="results/features",
        baseline=config["figures"]["baseline_genre"],
        code=code("figures.eda", "figures.common"),
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
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("figures.eda", "figures.common", "data.validate"),
    script:
        "../workflow/scripts/validation_status.py"
