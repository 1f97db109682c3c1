# Evolution stage (issue 11): followed tracks -> out-of-sample scores (cross-fitted fold models, or the
# model's held-out tracks) + audio descriptors -> cells, trends, verdicts -> figures; temporal
# generalisation of the cheapest model. Paths are the contract of docs/ARCHITECTURE.md ("Evolution").


rule evolution_tracks:
    input:
        splits="results/splits/tracks.tsv",
        metadata="results/metadata/tracks.tsv",
    output:
        tracks="results/evolution/tracks.tsv",
    log:
        "logs/evolution/tracks.log",
    benchmark:
        "benchmarks/evolution/tracks.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        year_source=EVOLUTION["year_source"],
        folds=FOLDS,
        seed=EVOLUTION["seed"],
        code=fingerprint("evolution_tracks"),
    script:
        "../workflow/scripts/evolution_tracks.py"


rule evolution_split:
    input:
        splits="results/splits/tracks.tsv",
        followed="results/evolution/tracks.tsv",
    output:
        tracks="results/evolution/{scheme}/tracks.tsv",
    log:
        "logs/evolution/{scheme}/split.log",
    benchmark:
        "benchmarks/evolution/{scheme}/split.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        fold=scheme_fold,
        folds=FOLDS,
        seed=EVOLUTION["seed"],
        code=fingerprint("evolution_split"),
    script:
        "../workflow/scripts/evolution_split.py"


# The fold's split table packed as views of the model's packs (track indices and the fold's own
# labels and statistics, no copy of x); temporary: they only feed the fold models.
rule evolution_pack:
    input:
        tracks="results/evolution/{scheme}/tracks.tsv",
        genres="results/splits/genres.tsv",
        sources=expand("results/datasets/{{feature_set}}/{split}.h5", split=SPLITS),
    output:
        **{
            split: temp(
                f"results/evolution/{{scheme}}/datasets/{{feature_set}}/{split}.h5"
            )
            for split in SPLITS
        },
    log:
        "logs/evolution/{scheme}/pack_{feature_set}.log",
    benchmark:
        "benchmarks/evolution/{scheme}/pack_{feature_set}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=fingerprint("evolution_pack"),
    script:
        "../workflow/scripts/evolution_pack.py"


# The existing training, on the fold's packs: one model per fold (and the early-years model).
rule evolution_train:
    input:
        unpack(scheme_datasets),
    output:
        checkpoint="results/evolution/{model}/{scheme}/checkpoint.pt",
        history="results/evolution/{model}/{scheme}/history.csv",
        metrics="results/evolution/{model}/{scheme}/metrics.json",
        curves=report(
            "results/evolution/{model}/{scheme}/curves.png",
            caption="../workflow/report/model_curves.rst",
            category="Evolution",
            subcategory="{model} {scheme} model",
        ),
        confusion=report(
            "results/evolution/{model}/{scheme}/confusion.png",
            caption="../workflow/report/model_confusion.rst",
            category="Evolution",
            subcategory="{model} {scheme} model",
        ),
    log:
        "logs/evolution/{model}/{scheme}/train.log",
    benchmark:
        "benchmarks/evolution/{model}/{scheme}/train.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    params:
        spec=model_params,
        code=fingerprint("train_model"),
    script:
        "../workflow/scripts/train_model.py"


rule evolution_scores:
    input:
        packs=score_inputs,
        followed="results/evolution/tracks.tsv",
    output:
        scores="results/evolution/{model}/track_scores.tsv",
        embeddings="results/evolution/{model}/embeddings.h5",
    log:
        "logs/evolution/{model}/scores.log",
    benchmark:
        "benchmarks/evolution/{model}/scores.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    params:
        sources=score_sources,
        code=fingerprint("evolution_scores"),
    script:
        "../workflow/scripts/evolution_scores.py"


rule evolution_descriptors:
    input:
        packs=expand("results/datasets/mel/{split}.h5", split=SPLITS),
        followed="results/evolution/tracks.tsv",
    output:
        descriptors="results/evolution/descriptors.tsv",
    log:
        "logs/evolution/descriptors.log",
    benchmark:
        "benchmarks/evolution/descriptors.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=fingerprint("evolution_descriptors"),
    script:
        "../workflow/scripts/evolution_descriptors.py"


rule evolution_tables:
    input:
        scores="results/evolution/{model}/track_scores.tsv",
        embeddings="results/evolution/{model}/embeddings.h5",
        descriptors="results/evolution/descriptors.tsv",
        judge=evolution_judge,
        gap=evolution_gap,
    output:
        periods=report(
            "results/evolution/{model}/periods.tsv",
            caption="../workflow/report/evolution_periods.rst",
            category="Evolution",
            subcategory="{model}",
        ),
        trends=report(
            "results/evolution/{model}/trends.tsv",
            caption="../workflow/report/evolution_trends.rst",
            category="Evolution",
            subcategory="Verdicts",
        ),
    log:
        "logs/evolution/{model}/tables.log",
    benchmark:
        "benchmarks/evolution/{model}/tables.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        evolution=TABLE_PARAMS,
        code=fingerprint("evolution_tables"),
    script:
        "../workflow/scripts/evolution_tables.py"


rule evolution_figures:
    input:
        periods="results/evolution/{model}/periods.tsv",
        trends="results/evolution/{model}/trends.tsv",
    output:
        **{
            measure: report(
                f"results/figures/evolution/{{model}}/{measure}.{FIG_EXT}",
                caption="../workflow/report/evolution_figure.rst",
                category="Evolution",
                subcategory="{model}",
            )
            for measure in EVOLUTION_MEASURES
        },
    log:
        "logs/figures/evolution/{model}.log",
    benchmark:
        "benchmarks/figures/evolution/{model}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("evolution_figures"),
    script:
        "../workflow/scripts/evolution_figures.py"


rule temporal_generalisation:
    input:
        checkpoint="results/evolution/{model}/temporal/checkpoint.pt",
        test=lambda w: f"results/evolution/temporal/datasets/{config['models'][w.model]['features']}/test.h5",
        split="results/evolution/temporal/tracks.tsv",
    output:
        table=report(
            "results/evolution/{model}/temporal_generalisation.tsv",
            caption="../workflow/report/evolution_temporal.rst",
            category="Evolution",
            subcategory="{model}",
        ),
    log:
        "logs/evolution/{model}/temporal_generalisation.log",
    benchmark:
        "benchmarks/evolution/{model}/temporal_generalisation.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        bootstrap=EVOLUTION["bootstrap"],
        seed=EVOLUTION["seed"],
        min_artists=EVOLUTION["min_artists"],
        code=fingerprint("temporal_generalisation"),
    script:
        "../workflow/scripts/temporal_generalisation.py"
