# Input optimisation stage: per-track scores -> per-genre optimum -> gap -> audio + round trip.
# All paths are the contract of docs/ARCHITECTURE.md ("Input optimisation and audio").

# Only what the maximisation uses, so that changing e.g. the audio settings reruns no optimisation.
MAXIMISE = {
    key: config["optimise"][key]
    for key in (
        "steps",
        "lr",
        "objective",
        "starts",
        "space",
        "pca_variance",
        "prior",
        "box",
        "l2",
        "tv",
        "band_shift",
        "gain_db",
        "seed",
    )
}
# The verdict's thresholds (quality.tsv): changing them reruns no optimisation.
THRESHOLDS = {
    key: config["optimise"][key]
    for key in (
        "knn_percentile_max",
        "clamp_fraction_max",
        "roundtrip_share_min",
        "judge_percentile_min",
    )
}
# "{genre}_best.wav" would also match "{genre}.wav" with genre "X_best": slugs never end in "_best".
NOT_BEST = r"[A-Za-z0-9_-]+(?<!_best)"


rule score_tracks:
    input:
        unpack(optimise_model_inputs),
        tracks="results/splits/tracks.tsv",
    output:
        scores="results/optimise/{model}/track_scores.tsv",
    log:
        "logs/optimise/{model}/score_tracks.log",
    benchmark:
        "benchmarks/optimise/{model}/score_tracks.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    params:
        budget_mb=config["training"]["memory_budget_mb"],
        code=fingerprint("score_tracks"),
    script:
        "../workflow/scripts/score_tracks.py"


rule optimise_genre:
    input:
        unpack(optimise_model_inputs),
        scores="results/optimise/{model}/track_scores.tsv",
    output:
        h5="results/optimise/{model}/{genre}.h5",
    log:
        "logs/optimise/{model}/{genre}.log",
    benchmark:
        "benchmarks/optimise/{model}/{genre}.tsv"
    wildcard_constraints:
        genre=NOT_BEST,
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    params:
        optimise=MAXIMISE,
        budget_mb=config["training"]["memory_budget_mb"],
        code=fingerprint("optimise_genre"),
    script:
        "../workflow/scripts/optimise_genre.py"


rule start_roundtrip:
    input:
        checkpoint="results/models/{model}/checkpoint.pt",
        optimum="results/optimise/{model}/{genre}.h5",
    output:
        roundtrip="results/optimise/{model}/roundtrip/{genre}.tsv",
        wavs=directory("results/audio/{model}/starts/{genre}"),
    log:
        "logs/optimise/{model}/roundtrip/{genre}.log",
    benchmark:
        "benchmarks/optimise/{model}/roundtrip/{genre}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
        gpu=0,
    params:
        audio=config["audio"],
        code=fingerprint("start_roundtrip"),
    script:
        "../workflow/scripts/start_roundtrip.py"


rule optimum_quality:
    input:
        unpack(optimise_model_inputs),
        optima=optimised_genres,
        roundtrips=start_roundtrips,
        transfer=lambda wildcards: list(transfer_models(wildcards).values()),
        judge_audio="results/judge/audio/{model}.tsv",
        judge_tracks="results/judge/tracks.tsv",
    output:
        quality=report(
            "results/optimise/{model}/quality.tsv",
            caption="../workflow/report/optimise_quality_table.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/optimise/{model}/quality.log",
    benchmark:
        "benchmarks/optimise/{model}/quality.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=0,
    params:
        transfer_names=lambda wildcards: list(transfer_models(wildcards)),
        thresholds=THRESHOLDS,
        budget_mb=config["training"]["memory_budget_mb"],
        genre_tags=JUDGE["genre_tags"],
        code=fingerprint("optimum_quality"),
    script:
        "../workflow/scripts/optimum_quality.py"


rule representativeness_gap:
    input:
        quality="results/optimise/{model}/quality.tsv",
        optima=optimised_genres,
    output:
        gap=report(
            "results/optimise/{model}/gap.tsv",
            caption="../workflow/report/optimise_gap_table.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/optimise/{model}/gap.log",
    benchmark:
        "benchmarks/optimise/{model}/gap.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=fingerprint("representativeness_gap"),
    script:
        "../workflow/scripts/representativeness_gap.py"


rule invert_genre:
    input:
        optimum="results/optimise/{model}/{genre}.h5",
        gap="results/optimise/{model}/gap.tsv",
    output:
        wav="results/audio/{model}/{genre}.wav",
        best="results/audio/{model}/{genre}_best.wav",
        mp3="results/audio/{model}/{genre}.mp3",
        best_mp3="results/audio/{model}/{genre}_best.mp3",
    log:
        "logs/audio/{model}/{genre}.log",
    benchmark:
        "benchmarks/audio/{model}/{genre}.tsv"
    wildcard_constraints:
        genre=NOT_BEST,
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        audio=config["audio"],
        code=fingerprint("invert_genre"),
    script:
        "../workflow/scripts/invert_genre.py"


rule audio_roundtrip:
    input:
        checkpoint="results/models/{model}/checkpoint.pt",
        optima=optimised_genres,
        gap="results/optimise/{model}/gap.tsv",
        wavs=optimised_genre_wavs,
    output:
        roundtrip=report(
            "results/audio/{model}/roundtrip.tsv",
            caption="../workflow/report/audio_roundtrip.rst",
            category="Audio",
            subcategory="{model}",
        ),
    log:
        "logs/audio/{model}/roundtrip.log",
    benchmark:
        "benchmarks/audio/{model}/roundtrip.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=0,
    params:
        audio=config["audio"],
        code=fingerprint("audio_roundtrip"),
    script:
        "../workflow/scripts/audio_roundtrip.py"


rule gap_figure:
    input:
        gap="results/optimise/{model}/gap.tsv",
    output:
        figure=report(
            f"results/figures/optimise/{{model}}/gap.{FIG_EXT}",
            caption="../workflow/report/optimise_gap.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/figures/optimise/{model}/gap.log",
    benchmark:
        "benchmarks/figures/optimise/{model}/gap.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("gap_figure"),
    script:
        "../workflow/scripts/gap_figure.py"


rule optimised_inputs_figure:
    input:
        optima=optimised_genres,
        gap="results/optimise/{model}/gap.tsv",
    output:
        figure=report(
            f"results/figures/optimise/{{model}}/optimised_inputs.{FIG_EXT}",
            caption="../workflow/report/optimise_inputs.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/figures/optimise/{model}/optimised_inputs.log",
    benchmark:
        "benchmarks/figures/optimise/{model}/optimised_inputs.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("optimised_inputs_figure"),
    script:
        "../workflow/scripts/optimised_inputs_figure.py"


rule quality_figure:
    input:
        quality="results/optimise/{model}/quality.tsv",
        gap="results/optimise/{model}/gap.tsv",
    output:
        figure=report(
            f"results/figures/optimise/{{model}}/quality.{FIG_EXT}",
            caption="../workflow/report/optimise_quality.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/figures/optimise/{model}/quality.log",
    benchmark:
        "benchmarks/figures/optimise/{model}/quality.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("quality_figure"),
    script:
        "../workflow/scripts/quality_figure.py"


rule optimum_comparison_figure:
    input:
        optima=optimised_genres,
        gap="results/optimise/{model}/gap.tsv",
    output:
        figure=report(
            f"results/figures/optimise/{{model}}/optimum_vs_real.{FIG_EXT}",
            caption="../workflow/report/optimise_comparison.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/figures/optimise/{model}/optimum_vs_real.log",
    benchmark:
        "benchmarks/figures/optimise/{model}/optimum_vs_real.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        code=fingerprint("optimum_comparison_figure"),
    script:
        "../workflow/scripts/optimum_comparison_figure.py"


rule known_answer:
    input:
        unpack(model_datasets),
        optima=optimised_genres,
        gap="results/optimise/{model}/gap.tsv",
        ground_truth=GROUND_TRUTH,
    output:
        known=report(
            "results/optimise/{model}/known_answer.tsv",
            caption="../workflow/report/optimise_known_answer.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/optimise/{model}/known_answer.log",
    benchmark:
        "benchmarks/optimise/{model}/known_answer.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        code=fingerprint("known_answer"),
    script:
        "../workflow/scripts/known_answer.py"


rule listen_page:
    input:
        gap="results/optimise/{model}/gap.tsv",
        mp3s=lambda wildcards: [
            path.replace(".wav", ".mp3") for path in optimised_genre_wavs(wildcards)
        ],
    output:
        page=report(
            "results/audio/{model}/listen.html",
            caption="../workflow/report/audio_listen.rst",
            category="Audio",
            subcategory="{model}",
        ),
    log:
        "logs/audio/{model}/listen.log",
    benchmark:
        "benchmarks/audio/{model}/listen.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("listen_page"),
    script:
        "../workflow/scripts/listen_page.py"
