# Data stage: (synthesize) -> track table -> per-folder validation + features -> report -> splits -> packs.

if SYNTHETIC:

    rule synthesize:
        output:
            tracks=TRACKS_CSV,
            genres=GENRES_CSV,
            truth=GROUND_TRUTH,
            audio=directory(str(AUDIO_DIR)),
        log:
            "logs/synthesize.log",
        benchmark:
            "benchmarks/synthesize.tsv"
        conda:
            "../envs/fmagenre.yaml"
        threads: 4
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            synthetic=DATASET["synthetic"],
            code=fingerprint("synthesize"),
        script:
            "../workflow/scripts/synthesize.py"


checkpoint track_table:
    input:
        tracks=TRACKS_CSV,
        genres=GENRES_CSV,
    output:
        table="results/metadata/tracks.tsv",
        genres="results/metadata/genres.tsv",
    log:
        "logs/track_table.log",
    benchmark:
        "benchmarks/track_table.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        subset=DATASET["subset"],
        code=fingerprint("track_table"),
    script:
        "../workflow/scripts/track_table.py"


rule extract_folder:
    input:
        audio=folder_audio,
    output:
        validation="results/validation/folders/{folder}.tsv",
        manifest="results/features/{folder}/manifest.tsv",
    log:
        "logs/extract_folder/{folder}.log",
    benchmark:
        "benchmarks/extract_folder/{folder}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        track_ids=folder_track_ids,
        audio_dir=str(AUDIO_DIR),
        features=config["features"],
        validation=config["validation"],
        code=fingerprint("extract_folder"),
    script:
        "../workflow/scripts/extract_folder.py"


rule validation_report:
    input:
        table="results/metadata/tracks.tsv",
        folders=folder_validations,
    output:
        report=report(
            "results/validation/report.tsv",
            caption="../workflow/report/validation_report.rst",
            category="Data",
        ),
    log:
        "logs/validation_report.log",
    benchmark:
        "benchmarks/validation_report.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        audio_dir=str(AUDIO_DIR),
        code=fingerprint("validation_report"),
    script:
        "../workflow/scripts/validation_report.py"


checkpoint splits:
    input:
        table="results/metadata/tracks.tsv",
        report="results/validation/report.tsv",
    output:
        tracks="results/splits/tracks.tsv",
        genres=report(
            "results/splits/genres.tsv",
            caption="../workflow/report/genres.rst",
            category="Data",
        ),
    log:
        "logs/splits.log",
    benchmark:
        "benchmarks/splits.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        splits=config["splits"],
        code=fingerprint("splits"),
    script:
        "../workflow/scripts/splits.py"


rule pack_dataset:
    input:
        tracks="results/splits/tracks.tsv",
        genres="results/splits/genres.tsv",
        manifests=pack_manifests,
    output:
        **{split: f"results/datasets/{{feature_set}}/{split}.h5" for split in SPLITS},
    log:
        "logs/pack_dataset/{feature_set}.log",
    benchmark:
        "benchmarks/pack_dataset/{feature_set}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        frames=pack_frames,
        code=fingerprint("pack_dataset"),
    script:
        "../workflow/scripts/pack_dataset.py"
