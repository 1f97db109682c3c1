"""Per-track measures of the followed tracks: out-of-sample model scores and embeddings, audio descriptors.

Model measures come from the fold model that did not train on the track (or, with
``evolution.scores: heldout``, from the model itself on its validation and test tracks): the margin
``z_g - logsumexp_{k!=g} z_k`` of the track's own genre (:mod:`fmagenre.models.margin`) and the
penultimate-layer embedding (the input of the model's last linear layer, averaged over a segment
model's segments).

Audio descriptors come from the packed mel spectrogram (dB): spectral centroid (Hz, mel domain),
tempo, onset rate (librosa's onset detector on the mel onset envelope, onsets per second) and loudness
(the level of the mean mel power in dB relative to full-scale mel power 1; not LUFS). Tempo is robust
to octave errors: the estimate (librosa's tempo on the autocorrelated onset envelope) is moved by a
factor 2 or 1/2 when that brings it closer, on a log scale, to the median tempo of the track's genre
over all years; the reference does not depend on the year, so it cannot create a trend.
"""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from fmagenre.data.pack import read_pack
from fmagenre.evolution.embeddings import write_embeddings
from fmagenre.io import genre_slug, read_tsv, write_tsv
from fmagenre.librosa_cache import librosa
from fmagenre.models.margin import genre_margins, genre_probabilities
from fmagenre.optimise.scores import model_logits
from fmagenre.optimise.spectra import mel_db, resolve_octaves, track_summaries

log = logging.getLogger(__name__)

DESCRIPTORS = ["spectral_centroid_hz", "tempo_bpm", "onset_rate_hz", "loudness_db"]


def _read_pack(path: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """``x`` (float32, feature units), ``track_id`` and the attributes of one pack, by the one reader."""
    pack = read_pack(path)
    return pack["x"], pack["track_id"], pack["attrs"]


def score_tracks(
    sources: list[tuple[str, str, int]], followed_tsv: str, scores_out: str, embeddings_out: str
) -> pd.DataFrame:
    """``track_scores.tsv`` and ``embeddings.h5`` of the followed tracks.

    ``sources``: (checkpoint, pack, fold) triples: each checkpoint scores exactly the tracks of its
    pack (a fold model its fold's test pack; with fold -1 the model itself its held-out packs).
    ``scored_by`` names the checkpoint that scored each track. Every checkpoint also embeds every
    followed track (``by_model``), so that a fold's axis (:mod:`fmagenre.evolution.axis`) can be
    fitted on the other folds' tracks in that fold model's own embedding.
    """
    from fmagenre.models.checkpoint import load_model

    followed = read_tsv(followed_tsv).set_index("track_id")
    checkpoints = list(dict.fromkeys(source[0] for source in sources))
    models = {path: load_model(path, device="cpu") for path in checkpoints}
    frames, by_model, genres = [], [], None
    for checkpoint, pack, fold in sources:
        model, info = models[checkpoint]
        genres = info["genres"]
        x, ids, _ = _read_pack(pack)
        keep = np.isin(ids, followed.index)
        x = x[keep]
        embedded = {}
        for path, (other, other_info) in models.items():
            logits_of, embedded[path] = model_logits(other, other_info, x, embeddings=True)
            if path == checkpoint:
                logits = logits_of
        margins, probabilities = genre_margins(logits), genre_probabilities(logits)
        meta = followed.loc[ids[keep]]
        own = np.array([genres.index(g) for g in meta["genre"]])
        rows = np.arange(len(own))
        frame = pd.DataFrame(
            {
                "track_id": ids[keep],
                **{
                    c: meta[c].to_numpy()
                    for c in ("genre", "artist_id", "split", "year", "year_source")
                },
                "fold": fold,
                "scored_by": checkpoint,
                "margin": margins[rows, own],
                "probability": probabilities[rows, own],
            }
        )
        slugs = [genre_slug(g) for g in genres]
        frame = pd.concat(
            [
                frame,
                pd.DataFrame(margins, columns=[f"margin_{s}" for s in slugs]),
                pd.DataFrame(probabilities, columns=[f"probability_{s}" for s in slugs]),
            ],
            axis=1,
        )
        frames.append(frame)
        by_model.append(np.stack([embedded[path] for path in checkpoints]))
        log.info(
            "%s scored %d tracks, %d models embedded them", checkpoint, len(frame), len(models)
        )
    table = pd.concat(frames, ignore_index=True)
    if table["track_id"].duplicated().any():
        raise ValueError("a track was scored by two models; fix: each pack must hold one fold only")
    order = np.argsort(table["track_id"].to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    write_tsv(scores_out, table)
    write_embeddings(
        embeddings_out,
        table["track_id"].to_numpy(),
        np.concatenate(by_model, axis=1)[:, order],
        checkpoints,
        genres,
    )
    return table


def audio_descriptors(x: np.ndarray, attrs: dict) -> pd.DataFrame:
    """Raw (octave-unresolved) descriptors of packed tracks ``x`` [N, C, T] (any feature set with mel
    or MFCC bands)."""
    bands, n_mels = json.loads(attrs["bands"]), int(attrs["n_mels"])
    sr, hop = int(attrs["sr"]), int(attrs["hop_length"])
    summaries = track_summaries(x, bands, n_mels, sr, hop)
    onset_rate, loudness = np.empty(len(x)), np.empty(len(x))
    seconds = x.shape[-1] * hop / sr
    for i in tqdm(range(len(x)), desc="descriptors", unit="track", file=sys.stderr, mininterval=10):
        db = mel_db(x[i : i + 1].astype(np.float64), bands, n_mels)[0]
        envelope = librosa.onset.onset_strength(S=db, sr=sr, hop_length=hop)
        onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=hop)
        onset_rate[i] = len(onsets) / seconds
        loudness[i] = 10 * np.log10(max(librosa.db_to_power(db).sum(axis=0).mean(), 1e-20))
    return pd.DataFrame(
        {
            "spectral_centroid_hz": summaries["spectral_centroid_hz"],
            "tempo_bpm": summaries["tempo_bpm"],
            "onset_rate_hz": onset_rate,
            "loudness_db": loudness,
        }
    )


def descriptor_table(packs: list[str], followed_tsv: str, output: str) -> pd.DataFrame:
    """``descriptors.tsv``: track_id, genre and :data:`DESCRIPTORS` of every followed track."""
    followed = read_tsv(followed_tsv).set_index("track_id")
    parts = []
    for path in packs:
        x, ids, attrs = _read_pack(path)
        keep = np.isin(ids, followed.index)
        frame = audio_descriptors(x[keep], attrs)
        frame.insert(0, "track_id", ids[keep])
        parts.append(frame)
        log.info("descriptors of %d tracks of %s", len(frame), path)
    table = pd.concat(parts, ignore_index=True).sort_values("track_id").reset_index(drop=True)
    table.insert(1, "genre", followed.loc[table["track_id"], "genre"].to_numpy())
    table["tempo_bpm"] = resolve_octaves(table["tempo_bpm"].to_numpy(), table["genre"].to_numpy())
    write_tsv(output, table)
    return table
