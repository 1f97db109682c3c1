# Input optimisation stage: per-track scores -> per-genre optimum -> gap, evolution -> audio + round trip.
# All paths are the contract of docs/ARCHITECTURE.md ("Input optimisation and audio").

# Only what the maximisation uses, so that changing e.g. the evolution periods reruns no optimisation.
MAXIMISE = {
    key: config["optimise"][key]
    for key in (
        "steps",
        "lr",
        "objective",
        "starts",
        "l2",
        "tv",
        "jitter_frames",
        "clamp",
        "seed",
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
        code=fingerprint("optimise_genre"),
    script:
        "../workflow/scripts/optimise_genre.py"


rule representativeness_gap:
    input:
        scores="results/optimise/{model}/track_scores.tsv",
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


rule genre_evolution:
    input:
        unpack(optimise_model_inputs),
        scores="results/optimise/{model}/track_scores.tsv",
        optima=optimised_genres,
    output:
        evolution=report(
            "results/optimise/{model}/evolution.tsv",
            caption="../workflow/report/optimise_evolution_table.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/optimise/{model}/evolution.log",
    benchmark:
        "benchmarks/optimise/{model}/evolution.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=0,
    params:
        period_years=config["optimise"]["period_years"],
        periods=config["optimise"]["periods"],
        code=fingerprint("genre_evolution"),
    script:
        "../workflow/scripts/genre_evolution.py"


rule invert_genre:
    input:
        optimum="results/optimise/{model}/{genre}.h5",
    output:
        wav=report(
            "results/audio/{model}/{genre}.wav",
            caption="../workflow/report/audio_optimum.rst",
            category="Audio",
            subcategory="{model}",
        ),
        best=report(
            "results/audio/{model}/{genre}_best.wav",
            caption="../workflow/report/audio_best_track.rst",
            category="Audio",
            subcategory="{model}",
        ),
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


rule evolution_figure:
    input:
        evolution="results/optimise/{model}/evolution.tsv",
    output:
        figure=report(
            f"results/figures/optimise/{{model}}/evolution.{FIG_EXT}",
            caption="../workflow/report/optimise_evolution.rst",
            category="Input optimisation",
            subcategory="{model}",
        ),
    log:
        "logs/figures/optimise/{model}/evolution.log",
    benchmark:
        "benchmarks/figures/optimise/{model}/evolution.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=fingerprint("evolution_figure"),
    script:
        "../workflow/scripts/evolution_figure.py"


rule optimised_inputs_figure:
    input:
        optima=optimised_genres,
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
