# Judge stage: musicnn (trained on real music, weights from `make setup`) tags every kept track,
# one job per audio folder (incremental, like the features), and every WAV the pipeline writes.


rule judge_folder:
    input:
        audio=folder_audio,
        validation="results/validation/folders/{folder}.tsv",
        weights=str(JUDGE_WEIGHTS / f"{JUDGE['model']}.pt"),
    output:
        manifest="results/judge/{folder}/manifest.tsv",
    log:
        "logs/judge_folder/{folder}.log",
    benchmark:
        "benchmarks/judge_folder/{folder}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        audio_dir=str(AUDIO_DIR),
        model=JUDGE["model"],
        weights_dir=lambda wildcards, input: str(Path(input.weights).parent),
        batch_patches=JUDGE["batch_patches"],
        max_patches=JUDGE["max_patches"],
        code=fingerprint("judge_folder"),
    script:
        "../workflow/scripts/judge_folder.py"


rule judge_tracks:
    input:
        manifests=judge_manifests,
    output:
        tracks="results/judge/tracks.tsv",
    log:
        "logs/judge_tracks.log",
    benchmark:
        "benchmarks/judge_tracks.tsv"
    conda:
        "../envs/fmagenre.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        model=JUDGE["model"],
        weights_dir=str(JUDGE_WEIGHTS),
        code=fingerprint("judge_tracks"),
    script:
        "../workflow/scripts/judge_tracks.py"


# Each start's round-trip clip (rule start_roundtrip), not the final WAVs: quality.tsv reads these
# tags, and the final WAVs come after quality.tsv (quality -> gap -> invert_genre).
rule judge_audio:
    input:
        wavs=start_wav_dirs,
        weights=str(JUDGE_WEIGHTS / f"{JUDGE['model']}.pt"),
    output:
        tags="results/judge/audio/{model}.tsv",
    log:
        "logs/judge_audio/{model}.log",
    benchmark:
        "benchmarks/judge_audio/{model}.tsv"
    conda:
        "../envs/fmagenre.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        model=JUDGE["model"],
        weights_dir=lambda wildcards, input: str(Path(input.weights).parent),
        root=lambda wildcards: f"results/audio/{wildcards.model}",
        code=fingerprint("judge_audio"),
    script:
        "../workflow/scripts/judge_audio.py"


# The listening WAVs (optimum and best track per genre, rule invert_genre) are judged too; they come
# after quality.tsv and gap.tsv (the headline is chosen there), so they have a table of their own.
use rule judge_audio as judge_listening with:
    input:
        wavs=optimised_genre_wavs,
        weights=str(JUDGE_WEIGHTS / f"{JUDGE['model']}.pt"),
    output:
        tags="results/judge/audio/{model}/listening.tsv",
    log:
        "logs/judge_audio/{model}/listening.log",
    benchmark:
        "benchmarks/judge_audio/{model}/listening.tsv"
