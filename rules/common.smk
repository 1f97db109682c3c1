# Config validation, paths, wildcard constraints and input functions shared by every rule file.
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from snakemake.exceptions import WorkflowError

from fmagenre.config import ConfigError, validate_config
from fmagenre.data.metadata import SPLITS
from fmagenre.data.pack import FEATURE_SETS
from fmagenre.fingerprint import script_fingerprint
from fmagenre.io import read_tsv
from fmagenre.models.runs import replicate_dir, replicate_seed

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

DATASET = config["dataset"]
SYNTHETIC = DATASET["synthetic"]["enabled"]
METADATA_DIR = Path(DATASET["metadata_dir"])
AUDIO_DIR = Path(DATASET["audio_dir"])
TRACKS_CSV = str(METADATA_DIR / "tracks.csv")
GENRES_CSV = str(METADATA_DIR / "genres.csv")
GROUND_TRUTH = str(METADATA_DIR / "ground_truth.json")
FIG_EXT = config["figures"]["format"]
MODELS = list(config["models"])
OPTIMISED_MODELS = list(config["optimise"]["models"])
JUDGE = config["judge"]
# A relative weights folder is the checkout's (made by `make setup`), whatever --directory says.
# Resolved, so that a copy of the workflow linking to the same weights schedules nothing new.
JUDGE_WEIGHTS = (Path(workflow.basedir) / JUDGE["weights_dir"]).resolve()
if not (JUDGE_WEIGHTS / "manifest.json").is_file():
    raise WorkflowError(
        f"musicnn weights missing under {JUDGE_WEIGHTS} (config key judge.weights_dir). "
        "Fix: run `make setup` once (make run and make test do it when missing)."
    )


wildcard_constraints:
    folder=r"\d{3}",
    feature_set="|".join(re.escape(name) for name in FEATURE_SETS),
    split="|".join(SPLITS),
    model="|".join(re.escape(name) for name in MODELS) or "__none__",
    replicate=r"[1-9][0-9]*",
    genre=r"[A-Za-z0-9_-]+",


SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


def fingerprint(script):
    """The ``code`` param of a job running ``workflow/scripts/{script}.py``: a hash of the script
    and of every package module it imports, transitively, so editing any of them reruns the rule.
    """
    return script_fingerprint(SCRIPTS / f"{script}.py")


# ---- data-dependent lists, known once the checkpoints have run ------------------------------------


def track_table():
    """The checkpoint's track table, read once per version of the file (callers must not modify it).

    Input functions and params call this once per extract_folder job: re-reading 106,574 rows
    (fma_full) for each of 156 folders would cost ~0.1 s x 2 x 156 per DAG evaluation.
    """
    path = checkpoints.track_table.get().output["table"]
    key = (path, Path(path).stat().st_mtime_ns)
    cache = track_table.__dict__.setdefault("cache", {})
    if key not in cache:
        cache.clear()
        cache[key] = read_tsv(path, dtype={"folder": str})
    return cache[key]


def folders():
    return sorted(track_table()["folder"].unique())


def folder_audio(wildcards):
    """The MP3s of one folder that exist; missing ones are reported by the folder job itself."""
    table = track_table()
    paths = table.loc[table["folder"] == wildcards.folder, "path"]
    return [str(AUDIO_DIR / path) for path in paths if (AUDIO_DIR / path).is_file()]


def folder_track_ids(wildcards):
    table = track_table()
    return [int(t) for t in table.loc[table["folder"] == wildcards.folder, "track_id"]]


def folder_validations(wildcards):
    return [f"results/validation/folders/{folder}.tsv" for folder in folders()]


def folder_manifests(wildcards):
    return [f"results/features/{folder}/manifest.tsv" for folder in folders()]


def judge_manifests(wildcards):
    return [f"results/judge/{folder}/manifest.tsv" for folder in folders()]


def pack_manifests(wildcards):
    """The manifests a pack reads: the judge's for the musicnn embedding, else the features'."""
    if wildcards.feature_set == "musicnn":
        return judge_manifests(wildcards)
    return folder_manifests(wildcards)


def pack_frames(wildcards):
    """The musicnn embedding is one frame per track; datasets.frames applies to the time series."""
    return 1 if wildcards.feature_set == "musicnn" else config["datasets"]["frames"]


def genre_slugs():
    genres = read_tsv(checkpoints.splits.get().output["genres"])
    return list(genres["slug"])


# ---- models ---------------------------------------------------------------------------------------


def model_spec(name, replicate=0):
    """The model's config entry with the training defaults filled in (passed as a param), for one
    seed replicate: seed + replicate. Without the replicate count, so that raising it leaves the
    existing runs as they are."""
    spec = {**config["training"], **config["models"][name], "name": name}
    del spec["replicates"]
    return {**spec, "seed": replicate_seed(spec["seed"], replicate)}


def model_params(wildcards):
    return model_spec(wildcards.model, int(wildcards.get("replicate", 0)))


def replicate_count(name):
    return {**config["training"], **config["models"][name]}["replicates"]


def model_run_dirs():
    """Every training run's folder: results/models/{name}/ and .../replicates/{k}/ for k >= 1."""
    return [
        replicate_dir("results/models", name, k)
        for name in MODELS
        for k in range(replicate_count(name))
    ]


def model_datasets(wildcards):
    feature_set = config["models"][wildcards.model]["features"]
    return {split: f"results/datasets/{feature_set}/{split}.h5" for split in SPLITS}


def used_feature_sets():
    return sorted({spec["features"] for spec in config["models"].values()})


# ---- optimise -------------------------------------------------------------------------------------


def optimise_model_inputs(wildcards):
    """The model's checkpoint and the packs of its feature set, named by split."""
    return {
        "checkpoint": f"results/models/{wildcards.model}/checkpoint.pt",
        **model_datasets(wildcards),
    }


def optimised_genres(wildcards):
    """Every genre's optimum file of one model, in the genres.tsv (label) order."""
    return expand(
        "results/optimise/{model}/{genre}.h5",
        model=wildcards.model,
        genre=genre_slugs(),
    )


def optimised_genre_wavs(wildcards):
    """The optimum and best-track WAVs of every genre, interleaved in the order of optimised_genres."""
    return [
        f"results/audio/{wildcards.model}/{genre}{suffix}.wav"
        for genre in genre_slugs()
        for suffix in ("", "_best")
    ]


def transfer_models(wildcards):
    """Name -> checkpoint of every model that scores this model's optima: the other trained models on
    the same feature set and (optimise.replicate_seed) the second-seed replicate of this one.
    """
    features = config["models"][wildcards.model]["features"]
    models = {
        name: f"results/models/{name}/checkpoint.pt"
        for name, spec in config["models"].items()
        if name != wildcards.model and spec["features"] == features
    }
    if config["optimise"]["replicate_seed"]:
        models[f"{wildcards.model}_replicate1"] = (
            f"results/models/{wildcards.model}/replicates/1/checkpoint.pt"
        )
    return models


def start_roundtrips(wildcards):
    return expand(
        "results/optimise/{model}/roundtrip/{genre}.tsv",
        model=wildcards.model,
        genre=genre_slugs(),
    )


def start_wav_dirs(wildcards):
    """Every genre's folder of round-trip clips (one WAV per start and the best track)."""
    return expand(
        "results/audio/{model}/starts/{genre}",
        model=wildcards.model,
        genre=genre_slugs(),
    )


# The report's front page lists each genre's verdict: read from gap.tsv where a run has made it.
config["report_verdicts"] = {
    model: read_tsv(f"results/optimise/{model}/gap.tsv")[["genre", "verdict"]].to_dict(
        "records"
    )
    for model in OPTIMISED_MODELS
    if Path(f"results/optimise/{model}/gap.tsv").exists()
}


# ---- figures ---------------------------------------------------------------------------------------

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


# ---- targets --------------------------------------------------------------------------------------


def data_targets(wildcards=None):
    return [
        "results/validation/report.tsv",
        "results/splits/tracks.tsv",
        *expand(
            "results/datasets/{feature_set}/{split}.h5",
            feature_set=used_feature_sets(),
            split=SPLITS,
        ),
    ]


def model_targets():
    if not MODELS:
        return []
    per_model = [
        "checkpoint.pt",
        "history.csv",
        "metrics.json",
        "curves.png",
        "confusion.png",
        "overfit.json",
    ]
    replicates = [
        f"{folder}/{file}"
        for folder in model_run_dirs()
        if "/replicates/" in folder
        for file in per_model[:-1]
    ]
    return (
        expand("results/models/{model}/{file}", model=MODELS, file=per_model)
        + replicates
        + [
            "results/models/summary.tsv",
            f"results/figures/models/comparison.{FIG_EXT}",
        ]
    )


def optimise_targets():
    targets = []
    for model in OPTIMISED_MODELS:
        slugs = genre_slugs()
        targets += expand(
            "results/optimise/{model}/{genre}.h5", model=model, genre=slugs
        )
        targets += expand("results/audio/{model}/{genre}.wav", model=model, genre=slugs)
        targets += expand(
            "results/audio/{model}/{genre}_best.wav", model=model, genre=slugs
        )
        targets += expand(
            "results/audio/{model}/{genre}{suffix}.mp3",
            model=model,
            genre=slugs,
            suffix=("", "_best"),
        )
        targets += [
            f"results/optimise/{model}/quality.tsv",
            f"results/optimise/{model}/gap.tsv",
            f"results/audio/{model}/roundtrip.tsv",
            f"results/audio/{model}/listen.html",
            f"results/figures/optimise/{model}/gap.{FIG_EXT}",
            f"results/figures/optimise/{model}/optimised_inputs.{FIG_EXT}",
            f"results/figures/optimise/{model}/quality.{FIG_EXT}",
            f"results/figures/optimise/{model}/optimum_vs_real.{FIG_EXT}",
        ]
        if SYNTHETIC:
            targets.append(f"results/optimise/{model}/known_answer.tsv")
    return targets


def judge_targets():
    return ["results/judge/tracks.tsv"] + expand(
        [
            "results/judge/audio/{model}.tsv",
            "results/judge/audio/{model}/listening.tsv",
        ],
        model=OPTIMISED_MODELS,
    )


def figure_targets():
    names = [
        "genre_cooccurrence",
        "genres_per_track",
        "tracks_per_split",
        "tracks_per_year",
        "mean_mel",
        "mel_difference",
    ]
    return expand("results/figures/eda/{name}.{ext}", name=names, ext=FIG_EXT) + (
        data_report_targets()
    )


def all_targets(wildcards):
    return (
        data_targets()
        + model_targets()
        + optimise_targets()
        + judge_targets()
        + evolution_targets()  # rules/evolution.smk
        + figure_targets()
    )


# ---- evolution (rules/evolution.smk) -------------------------------------------------------------

EVOLUTION = config["evolution"]
EVOLUTION_MODELS = list(EVOLUTION["models"])
TEMPORAL_MODEL = EVOLUTION["temporal_model"]
FOLDS = int(EVOLUTION["folds"])
EVOLUTION_MEASURES = [
    "margin",
    "displacement",
    "projection",
    "spectral_centroid_hz",
    "tempo_bpm",
    "onset_rate_hz",
    "loudness_db",
] + (
    # the judge's decade estimate needs the MSD tags (MTT_musicnn has no decade tags)
    ["judge_era"]
    if EVOLUTION["judge_era"] and JUDGE["model"] == "MSD_musicnn"
    else []
)
# What the tables use, and only that (folds: the artist groups of a held-out run's projection axes).
TABLE_PARAMS = {
    key: EVOLUTION[key]
    for key in (
        "period_years",
        "min_tracks",
        "min_artists",
        "bootstrap",
        "permutations",
        "seed",
        "folds",
    )
} | {"measures": EVOLUTION_MEASURES}


# The report's front page lists the evolution verdicts too: read from trends.tsv where a run has made it.
def report_trends():
    trends = {}
    for model in EVOLUTION_MODELS:
        path = Path(f"results/evolution/{model}/trends.tsv")
        if path.exists():
            table = read_tsv(path)
            trends[model] = {
                "found": table[table["verdict"] != "no evidence"].to_dict("records"),
                "tested": len(table),
            }
    return trends


config["report_trends"] = report_trends()


wildcard_constraints:
    scheme=r"folds/\d+|temporal",
    measure="|".join(EVOLUTION_MEASURES),


def scheme_fold(wildcards):
    """Fold number of a scheme ("folds/3" -> 3); None for the temporal split."""
    return (
        None if wildcards.scheme == "temporal" else int(wildcards.scheme.split("/")[1])
    )


def scheme_datasets(wildcards):
    feature_set = config["models"][wildcards.model]["features"]
    return {
        split: f"results/evolution/{wildcards.scheme}/datasets/{feature_set}/{split}.h5"
        for split in SPLITS
    }


def score_sources(wildcards):
    """[model file, pack, fold] triples: each model file scores the tracks of its pack only."""
    feature_set = config["models"][wildcards.model]["features"]
    if EVOLUTION["scores"] == "heldout":
        model_file = f"results/models/{wildcards.model}/checkpoint.pt"
        return [
            [model_file, f"results/datasets/{feature_set}/{split}.h5", -1]
            for split in ("validation", "test")
        ]
    return [
        [
            f"results/evolution/{wildcards.model}/folds/{k}/checkpoint.pt",
            f"results/evolution/folds/{k}/datasets/{feature_set}/test.h5",
            k,
        ]
        for k in range(FOLDS)
    ]


def score_inputs(wildcards):
    return sorted({path for source in score_sources(wildcards) for path in source[:2]})


def evolution_judge(wildcards):
    """The judge's per-track tags when judge_era is a measure, else none."""
    return ["results/judge/tracks.tsv"] if "judge_era" in EVOLUTION_MEASURES else []


def evolution_gap(wildcards):
    """The model's gap.tsv (its headline optima's margins, for gap_to_optimum) when it is optimised
    too, else none."""
    if wildcards.model in OPTIMISED_MODELS:
        return [f"results/optimise/{wildcards.model}/gap.tsv"]
    return []


def evolution_targets():
    targets = []
    for model in EVOLUTION_MODELS:
        targets += [
            f"results/evolution/{model}/periods.tsv",
            f"results/evolution/{model}/trends.tsv",
            *expand(
                "results/figures/evolution/{model}/{measure}.{ext}",
                model=model,
                measure=EVOLUTION_MEASURES,
                ext=FIG_EXT,
            ),
        ]
    if TEMPORAL_MODEL:
        targets.append(
            f"results/evolution/{TEMPORAL_MODEL}/temporal_generalisation.tsv"
        )
    return targets
