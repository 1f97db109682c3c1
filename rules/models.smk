# Models stage: train each configured model, check it can overfit, summarise and compare all models.


rule train_model:
    input:
        unpack(model_datasets),
    output:
        checkpoint="results/models/{model}/checkpoint.pt",
        history="results/models/{model}/history.csv",
        metrics="results/models/{model}/metrics.json",
        curves=report(
            "results/models/{model}/curves.png",
            caption="../workflow/report/model_curves.rst",
            category="Models",
            subcategory="{model}",
        ),
        confusion=report(
            "results/models/{model}/confusion.png",
            caption="../workflow/report/model_confusion.rst",
            category="Models",
            subcategory="{model}",
        ),
    log:
        "logs/train_model/{model}.log",
    benchmark:
        "benchmarks/train_model/{model}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    # One torch thread per job: small models gain little from intra-op threads, and two threads
    # ran 2-10x slower than one on a shared 2-core machine (bench/bench_training.py); two 1-thread
    # jobs in parallel use both cores instead.
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


rule overfit_check:
    input:
        unpack(model_datasets),
    output:
        overfit="results/models/{model}/overfit.json",
    log:
        "logs/overfit_check/{model}.log",
    benchmark:
        "benchmarks/overfit_check/{model}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    # One torch thread per job: small models gain little from intra-op threads, and two threads
    # ran 2-10x slower than one on a shared 2-core machine (bench/bench_training.py); two 1-thread
    # jobs in parallel use both cores instead.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    params:
        spec=model_params,
        code=fingerprint("overfit_check"),
    script:
        "../workflow/scripts/overfit_check.py"


rule model_summary:
    input:
        metrics=expand("results/models/{model}/metrics.json", model=MODELS),
        overfit=expand("results/models/{model}/overfit.json", model=MODELS),
    output:
        summary=report(
            "results/models/summary.tsv",
            caption="../workflow/report/model_summary.rst",
            category="Models",
            subcategory="Summary",
        ),
    log:
        "logs/model_summary/summary.log",
    benchmark:
        "benchmarks/model_summary/summary.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        specs={name: model_spec(name) for name in MODELS},
        code=fingerprint("model_summary"),
    script:
        "../workflow/scripts/model_summary.py"


rule model_comparison:
    input:
        summary="results/models/summary.tsv",
    output:
        figure=report(
            f"results/figures/models/comparison.{FIG_EXT}",
            caption="../workflow/report/model_comparison.rst",
            category="Models",
            subcategory="Summary",
        ),
    log:
        "logs/model_comparison/comparison.log",
    benchmark:
        "benchmarks/model_comparison/comparison.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("model_comparison"),
    script:
        "../workflow/scripts/model_comparison.py"
