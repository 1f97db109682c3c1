"""Synthetic, FMA-shaped dataset: the pipeline's embedded default.

Writes exactly what the real download holds — ``fma_metadata/tracks.csv`` (52 columns under the real
two-level header), ``genres.csv`` and ``fma_{subset}/NNN/NNNNNN.mp3`` (44.1 kHz stereo LAME MP3) — plus
``ground_truth.json``, which records every planted effect (genre synthesis parameters, per-genre drifts
with release year, broken clips) so that tests can check that the pipeline recovers them.

Artists are random effects: each artist shifts its tracks' timbre (brightness, harmonic rolloff and
count, noise), tempo, drum kit and dynamics and picks its key and scale, so tracks of one artist
resemble each other and a random split scores higher than an artist-grouped one, as in FMA. Planted
drifts are of a realistic size: :data:`DRIFT_SD` within-genre standard deviations *of the observable
descriptor* (the spectral centroid; track scatter, artist effects and estimation noise together)
across the whole year range, planted as the gain of a mastering high shelf and stated in
``ground_truth.json`` in SD units, scaled by ``drift_scale`` (0 = a null dataset); four genres drift,
the other four are no-drift controls.

Each genre is a distribution over musical parameters (tempo, drum pattern, bass, harmonic timbre,
scale, noise, dynamics). Genres overlap on purpose: per-track parameters scatter widely around the
genre's centre, and tracks with a second root genre borrow a quarter of its character, so a good
classifier lands well above chance but clearly below 100 %.

Multi-root tracks: ``MULTI_ROOT_FRACTION`` (12 %) of the tracks have a second root genre, as in the
real FMA: both roots (and their ancestors) are in ``genres_all`` and ``genre_top`` is empty. They
keep a split, so the pipeline keeps them for multi-label models (single-label models cannot use
them, as with the real FMA's tracks without a ``genre_top``).

CLI: ``python -m fmagenre.data.synth --metadata-dir DIR --audio-dir DIR [--preset small|medium] ...``
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from fmagenre.data.splits import grouped_split
from fmagenre.io import atomic_path, write_json

log = logging.getLogger("fmagenre.synth")

SAMPLE_RATE = 44100  # the MP3s' rate, as in the real FMA clips
RENDER_RATE = 22050  # synthesis rate; the features never look above 11 kHz, and it halves the cost
YEARS = (2006, 2017)  # release years are drawn from this closed range (12 years)
# Tracks with two root genres (FMA: genre_top empty): the multi-label models' extra tracks.
MULTI_ROOT_FRACTION = 0.12

# The real tracks.csv columns, in the real (sorted) order: 13 album, 17 artist, 2 set, 20 track.
COLUMNS = (
    [
        ("album", c)
        for c in (
            "comments date_created date_released engineer favorites id information listens "
            "producer tags title tracks type"
        ).split()
    ]
    + [
        ("artist", c)
        for c in (
            "active_year_begin active_year_end associated_labels bio comments date_created favorites id "
            "latitude location longitude members name related_projects tags website "
            "wikipedia_page"
        ).split()
    ]
    + [("set", "split"), ("set", "subset")]
    + [
        ("track", c)
        for c in (
            "bit_rate comments composer date_created date_recorded duration favorites genre_top genres "
            "genres_all information interest language_code license listens lyricist number publisher "
            "tags title"
        ).split()
    ]
)

# Top-level genres: real FMA genre ids and the real fma_medium track counts (its imbalance).
TOP_GENRES = {
    "Rock": (12, 7103),
    "Electronic": (15, 6314),
    "Experimental": (38, 2251),
    "Hip-Hop": (21, 2201),
    "Folk": (17, 1519),
    "Instrumental": (1235, 1350),
    "Pop": (10, 1186),
    "International": (2, 1018),
    "Classical": (5, 619),
    "Old-Time / Historic": (8, 510),
    "Jazz": (4, 384),
    "Country": (9, 178),
    "Soul-RnB": (14, 154),
    "Spoken": (20, 118),
    "Blues": (3, 74),
    "Easy Listening": (13, 21),
}
# Real FMA sub-genres (genre_id, parent, title) from genres.csv, some nested two deep (Bigbeat is a
# child of Techno). Old-Time / Historic has none in FMA either.
SUB_GENRES = {
    "Blues": [(567, 3, "Gospel")],
    "Classical": [(441, 5, "Opera"), (659, 5, "Contemporary Classical")],
    "Country": [(63, 9, "Bluegrass"), (137, 9, "Americana")],
    "Easy Listening": [(311, 13, "Lounge"), (810, 13, "Nu-Jazz")],
    "Electronic": [(181, 15, "Techno"), (236, 15, "IDM"), (401, 181, "Bigbeat")],
    "Experimental": [(1, 38, "Avant-Garde"), (32, 38, "Noise"), (47, 38, "Drone")],
    "Folk": [(33, 17, "Psych-Folk"), (103, 17, "Singer-Songwriter")],
    "Hip-Hop": [(100, 21, "Alternative Hip-Hop"), (539, 21, "Rap")],
    "Instrumental": [(18, 1235, "Soundtrack"), (107, 1235, "Ambient")],
    "International": [(46, 2, "Latin America"), (79, 2, "Reggae - Dub"), (502, 46, "Cumbia")],
    "Jazz": [(37, 4, "Jazz: Vocal"), (74, 4, "Free-Jazz")],
    "Old-Time / Historic": [],
    "Pop": [(76, 10, "Experimental Pop"), (362, 10, "Synth Pop")],
    "Rock": [(25, 12, "Punk"), (66, 12, "Indie-Rock"), (89, 25, "Post-Punk")],
    "Soul-RnB": [(11, 14, "Disco"), (19, 14, "Funk")],
    "Spoken": [(65, 20, "Radio"), (188, 20, "Poetry"), (189, 65, "Talk Radio")],
}
SMALL_GENRES = [
    "Electronic",
    "Experimental",
    "Folk",
    "Hip-Hop",
    "Instrumental",
    "International",
    "Pop",
    "Rock",
]

# Genre centres: tempo (bpm), kick/snare/hat level, bass level, harmonics count, harmonic rolloff
# (higher = darker), brightness (lowpass-ish tilt of the noise, 0..1), noise level, scale, swing,
# dynamics depth, note rate (notes per beat). Chosen so neighbours share parameters (overlap).
_CENTRES = {
    "Electronic": dict(
        tempo=126,
        kick=0.9,
        snare=0.3,
        hat=0.6,
        bass=0.8,
        harmonics=3,
        rolloff=1.6,
        bright=0.55,
        noise=0.05,
        scale="minor",
        dyn=0.1,
        notes=2,
    ),
    "Experimental": dict(
        tempo=92,
        kick=0.2,
        snare=0.2,
        hat=0.2,
        bass=0.3,
        harmonics=9,
        rolloff=0.7,
        bright=0.75,
        noise=0.30,
        scale="chromatic",
        dyn=0.6,
        notes=3,
    ),
    "Folk": dict(
        tempo=100,
        kick=0.1,
        snare=0.1,
        hat=0.1,
        bass=0.3,
        harmonics=6,
        rolloff=1.1,
        bright=0.40,
        noise=0.03,
        scale="major",
        dyn=0.3,
        notes=2,
    ),
    "Hip-Hop": dict(
        tempo=90,
        kick=1.0,
        snare=0.8,
        hat=0.5,
        bass=0.9,
        harmonics=4,
        rolloff=1.4,
        bright=0.35,
        noise=0.06,
        scale="minor",
        dyn=0.15,
        notes=1,
    ),
    "Instrumental": dict(
        tempo=80,
        kick=0.2,
        snare=0.1,
        hat=0.1,
        bass=0.4,
        harmonics=7,
        rolloff=1.0,
        bright=0.45,
        noise=0.02,
        scale="major",
        dyn=0.5,
        notes=1,
    ),
    "International": dict(
        tempo=110,
        kick=0.4,
        snare=0.5,
        hat=0.7,
        bass=0.4,
        harmonics=5,
        rolloff=0.9,
        bright=0.60,
        noise=0.04,
        scale="pentatonic",
        dyn=0.3,
        notes=3,
    ),
    "Pop": dict(
        tempo=116,
        kick=0.7,
        snare=0.6,
        hat=0.4,
        bass=0.6,
        harmonics=5,
        rolloff=1.2,
        bright=0.60,
        noise=0.03,
        scale="major",
        dyn=0.2,
        notes=2,
    ),
    "Rock": dict(
        tempo=132,
        kick=0.8,
        snare=0.9,
        hat=0.8,
        bass=0.7,
        harmonics=12,
        rolloff=0.5,
        bright=0.70,
        noise=0.10,
        scale="minor",
        dyn=0.2,
        notes=2,
    ),
    "Classical": dict(
        tempo=72,
        kick=0.0,
        snare=0.0,
        hat=0.0,
        bass=0.3,
        harmonics=8,
        rolloff=1.0,
        bright=0.40,
        noise=0.01,
        scale="major",
        dyn=0.7,
        notes=2,
    ),
    "Old-Time / Historic": dict(
        tempo=104,
        kick=0.1,
        snare=0.2,
        hat=0.1,
        bass=0.3,
        harmonics=6,
        rolloff=1.3,
        bright=0.25,
        noise=0.25,
        scale="major",
        dyn=0.3,
        notes=2,
    ),
    "Jazz": dict(
        tempo=140,
        kick=0.3,
        snare=0.3,
        hat=0.9,
        bass=0.7,
        harmonics=6,
        rolloff=1.1,
        bright=0.50,
        noise=0.03,
        scale="chromatic",
        dyn=0.4,
        notes=3,
    ),
    "Country": dict(
        tempo=108,
        kick=0.5,
        snare=0.6,
        hat=0.3,
        bass=0.5,
        harmonics=7,
        rolloff=0.9,
        bright=0.55,
        noise=0.03,
        scale="major",
        dyn=0.2,
        notes=2,
    ),
    "Soul-RnB": dict(
        tempo=96,
        kick=0.7,
        snare=0.7,
        hat=0.5,
        bass=0.8,
        harmonics=4,
        rolloff=1.3,
        bright=0.45,
        noise=0.03,
        scale="minor",
        dyn=0.25,
        notes=2,
    ),
    "Spoken": dict(
        tempo=60,
        kick=0.0,
        snare=0.0,
        hat=0.0,
        bass=0.1,
        harmonics=2,
        rolloff=2.0,
        bright=0.65,
        noise=0.35,
        scale="chromatic",
        dyn=0.8,
        notes=4,
    ),
    "Blues": dict(
        tempo=84,
        kick=0.5,
        snare=0.5,
        hat=0.4,
        bass=0.6,
        harmonics=8,
        rolloff=0.8,
        bright=0.45,
        noise=0.05,
        scale="minor",
        dyn=0.3,
        notes=2,
    ),
    "Easy Listening": dict(
        tempo=88,
        kick=0.3,
        snare=0.2,
        hat=0.3,
        bass=0.4,
        harmonics=4,
        rolloff=1.5,
        bright=0.35,
        noise=0.02,
        scale="major",
        dyn=0.2,
        notes=1,
    ),
}
_SCALES = {
    "major": [0, 2, 4, 5, 7, 9, 11],
    "minor": [0, 2, 3, 5, 7, 8, 10],
    "pentatonic": [0, 2, 4, 7, 9],
    "chromatic": list(range(12)),
}
# Within-genre scatter per track and per artist (the artist effect), in the parameters' own units;
# tempo and noise scatter on a log scale. For brightness and tempo the artists' share of the
# variance is ARTIST_SD**2 / (ARTIST_SD**2 + TRACK_SD**2) = 0.31; the other parameters are mostly
# the artist's (its sound), which is what makes a random, non-artist-grouped split leak.
TRACK_SD = {
    "bright": 0.12,
    "tempo": 0.12,
    "kick": 0.05,
    "snare": 0.05,
    "hat": 0.05,
    "bass": 0.05,
    "harmonics": 0.5,
    "rolloff": 0.08,
    "noise": 0.12,
    "dyn": 0.04,
    "notes": 0.3,
}
ARTIST_SD = {
    "bright": 0.08,
    "tempo": 0.08,
    "kick": 0.19,
    "snare": 0.19,
    "hat": 0.19,
    "bass": 0.19,
    "harmonics": 1.9,
    "rolloff": 0.29,
    "noise": 0.48,
    "dyn": 0.14,
    "notes": 0.6,
}
ARTIST_OWN_KEY = 0.8  # share of an artist's tracks in the artist's own key root
TILT_HZ = 1000.0  # corner of the mastering shelf whose gain (tilt_db) the centroid drifts move
COLOUR_GAIN = 1.0  # amplitude of the artist's resonance relative to the mix (+6 dB at its peak)
DRIFT_SD = 1.5  # planted change across YEARS, in within-genre SDs of the DESCRIPTOR (drift_scale x)
# Planted drifts: genre -> (parameter, sign). `tilt` is the gain (dB) of a mastering high shelf above
# TILT_HZ, 0 dB on every other track: it moves the spectral centroid without bound (the 0..1
# brightness of stop 18 ran out of range before Hip-Hop's centroid moved 1.5 SD). Every other genre
# is a no-drift control. Signs differ so that a trend test cannot pass by a global bias. Experimental
# and Instrumental are controls because their descriptors barely follow the parameters. No genre
# drifts in tempo any more: the evolution stage's robust tempo folds octave errors toward the genre's
# median, which wraps the fastest and slowest tracks of a genre and halves the measured response to a
# tempo change (measured by paired rendering: Hip-Hop 0.56, Pop 0.38 log bpm per log bpm, falling as
# the drift grows), so 1.5 descriptor SDs of tempo took 4 parameter SDs. Tempo, onset rate and
# loudness are therefore measures on which every genre is a control.
_PLANTED = {
    "Electronic": ("tilt", 1),
    "Hip-Hop": ("tilt", -1),
    "Pop": ("tilt", 1),
    "Rock": ("tilt", -1),
}
# Calibration. DESCRIPTOR_SD: each drift genre's within-genre SD of its descriptor around the year
# trend (track scatter, every artist effect and the estimation noise together), measured on the
# default data (64 tracks per genre, seed 0: descriptors.tsv of the evolution stage, residuals of an
# OLS fit on the year). DESCRIPTOR_RESPONSE: the centroid's change in Hz per dB of shelf gain across
# the genre's planted change (the response is convex: larger for a boost than for a cut), measured per
# genre by paired rendering of 48 tracks (fmagenre.data.drift_calibration; a unit test measures it
# again).
# A pooled response (stop 18) overstated some genres' own by 2x: Electronic's centroid then moved
# only 0.75 SD and Hip-Hop's ran the wrong way.
DESCRIPTOR = {"tilt": "spectral_centroid_hz"}
DESCRIPTOR_SD = {"Electronic": 53.1, "Hip-Hop": 49.5, "Pop": 77.1, "Rock": 154.1}  # Hz
DESCRIPTOR_RESPONSE = {"Electronic": 7.8, "Hip-Hop": 6.3, "Pop": 10.5, "Rock": 31.0}  # Hz/dB
_DRIFT_OBSERVABLE = {
    "tilt": "spectral centroid (higher = brighter)",
    None: "none (control genre)",
}

# Planted faults: the kind, the status validation must give it, and for short clips their length as a
# share of the clip (3 s and 5 s of a 30 s clip, like fma_small's 098565/098567/098569).
FAULTS = [
    ("short", "short", 0.1),
    ("short", "short", 1 / 6),
    ("empty", "undecodable", None),
    ("header_only", "undecodable", None),
    ("garbage", "undecodable", None),
    ("silent", "silent", None),
    ("missing", "missing", None),
]


def preset_genres(preset: str) -> list[str]:
    """Sorted top-level genre titles of a preset (``small``: fma_small's 8; ``medium``: 16)."""
    if preset == "small":
        return sorted(SMALL_GENRES)
    if preset == "medium":
        return sorted(TOP_GENRES)
    raise ValueError(f"unknown synthetic preset {preset!r}; use 'small' or 'medium'")


def genre_counts(preset: str, tracks_per_genre: int, n_tracks: int | None = None) -> dict[str, int]:
    """Tracks per genre: balanced for ``small``; the real fma_medium shares for ``medium``."""
    genres = preset_genres(preset)
    total = n_tracks or tracks_per_genre * len(genres)
    if preset == "small" and n_tracks is None:
        return {g: tracks_per_genre for g in genres}
    weights = np.array([1.0 if preset == "small" else TOP_GENRES[g][1] for g in genres])
    counts = np.maximum(3, np.round(weights / weights.sum() * total)).astype(int)
    counts[np.argmax(counts)] += total - counts.sum()  # exact total, adjusted on the largest genre
    return dict(zip(genres, counts.tolist()))


def _genre_table(genres: list[str]) -> pd.DataFrame:
    """genres.csv rows: each top-level genre and its real FMA sub-genres from :data:`SUB_GENRES`."""
    rows = []
    for title in genres:
        top = TOP_GENRES[title][0]
        rows.append((top, 0, title, top))
        rows.extend((gid, parent, sub, top) for gid, parent, sub in SUB_GENRES[title])
    table = pd.DataFrame(rows, columns=["genre_id", "parent", "title", "top_level"])
    table.insert(1, "#tracks", 0)
    return table.sort_values("genre_id").reset_index(drop=True)


def _assign_ids(n_total: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct, sorted track ids spread over ~40 tracks per 3-digit folder (at most 156 folders)."""
    folders = int(min(156, max(2, math.ceil(n_total / 40))))
    span = folders * 1000
    if n_total > span - 2:
        raise ValueError(f"{n_total} tracks do not fit in {folders} folders of 1000 ids")
    return np.sort(rng.choice(np.arange(2, span), size=n_total, replace=False))


def within_genre_sd(parameter: str) -> float:
    """Within-genre SD of a drifting parameter (track scatter and artist effect together)."""
    return float(np.hypot(TRACK_SD[parameter], ARTIST_SD[parameter]))


def artist_variance_share(parameter: str = "bright") -> float:
    """Share of a drifting parameter's within-genre variance that is the artist's effect."""
    return ARTIST_SD[parameter] ** 2 / within_genre_sd(parameter) ** 2


def _metadata(preset: str, counts: dict[str, int], seed: int, held_out_share: float):
    """Draw every track's metadata and synthesis parameters (no audio)."""
    rng = np.random.default_rng(seed)
    genres = preset_genres(preset)
    genre_table = _genre_table(genres)
    genre_of = np.concatenate([[g] * c for g, c in counts.items()])
    n = len(genre_of)
    order = rng.permutation(n)
    genre_of = genre_of[order]
    ids = _assign_ids(n, rng)
    artist_of, n_artists = _draw_artists(genre_of, genres, rng)
    split = grouped_split(
        pd.Series(genre_of), pd.Series(artist_of), seed, held_out_share
    ).to_numpy()
    artist_year = rng.integers(YEARS[0], YEARS[1] + 1, size=n_artists)
    year = artist_year[artist_of]
    genres_col, genres_all_col, genre_top_col, blend_with = _draw_genre_labels(
        genres, genre_table, genre_of, rng
    )
    return dict(
        genres=genres,
        genre_table=genre_table,
        ids=ids,
        genre_of=genre_of,
        artist_of=artist_of,
        split=split,
        year=year,
        genres_col=genres_col,
        genres_all_col=genres_all_col,
        genre_top_col=genre_top_col,
        blend_with=blend_with,
        rng=rng,
    )


def _draw_artists(genre_of: np.ndarray, genres: list[str], rng: np.random.Generator):
    """(artist id per track, number of ids used + 1).

    1-2 tracks per artist within a genre (fewer in tiny genres, so that the artist-grouped split can
    still give them validation and test tracks); albums one per artist. Many small artists keep the
    trend tests' units of replication (artists) numerous.
    """
    n = len(genre_of)
    artist_of = np.empty(n, dtype=np.int64)
    next_artist = 1
    for genre in genres:
        idx = np.flatnonzero(genre_of == genre)
        largest = int(np.clip(len(idx) // 10, 1, 2))
        position = 0
        while position < len(idx):
            size = int(rng.integers(1, largest + 1))
            artist_of[idx[position : position + size]] = next_artist
            next_artist += 1
            position += size
    return artist_of, next_artist


def _draw_genre_labels(genres, genre_table: pd.DataFrame, genre_of, rng: np.random.Generator):
    """(genres, genres_all, genre_top, blend_with) per track.

    Multi-label: sub-genres, and for exactly MULTI_ROOT_FRACTION of the tracks a second root genre
    (never their own; ``blend_with`` names it). genres_all adds every ancestor (as FMA does), and
    genre_top is empty when the track has two roots.
    """
    n = len(genre_of)
    top_id = {t: TOP_GENRES[t][0] for t in genres}
    subs = {
        t: genre_table.loc[
            (genre_table["top_level"] == top_id[t]) & (genre_table["parent"] != 0), "genre_id"
        ].tolist()
        for t in genres
    }
    parent_of = dict(zip(genre_table["genre_id"], genre_table["parent"]))
    root_of = dict(zip(genre_table["genre_id"], genre_table["top_level"]))

    def with_ancestors(gid):
        chain = [gid]
        while parent_of[chain[-1]]:
            chain.append(parent_of[chain[-1]])
        return chain

    own_index = np.searchsorted(genres, genre_of)
    second_root = np.full(n, -1)
    chosen = rng.choice(n, size=math.ceil(MULTI_ROOT_FRACTION * n), replace=False)
    second_root[chosen] = (own_index[chosen] + rng.integers(1, len(genres), chosen.size)) % len(
        genres
    )
    genres_col, genres_all_col, genre_top_col, blend_with = [], [], [], []
    for i in range(n):
        g = genre_of[i]
        own = [top_id[g]] if not subs[g] or rng.random() < 0.5 else [int(rng.choice(subs[g]))]
        if subs[g] and rng.random() < 0.35:
            own.append(int(rng.choice(subs[g])))
        if second_root[i] >= 0:
            other = genres[second_root[i]]
            own.append(top_id[other])
            blend_with.append(other)
        else:
            blend_with.append(None)
        own = sorted(set(own))
        genres_col.append(own)
        genres_all_col.append(sorted({a for gid in own for a in with_ancestors(gid)}))
        genre_top_col.append(g if len({root_of[gid] for gid in own}) == 1 else "")
    return genres_col, genres_all_col, genre_top_col, blend_with


def _drifts(genres: list[str], drift_scale: float = 1.0) -> dict[str, dict]:
    """Per genre: the drifting parameter (None for controls), its descriptor, the change across YEARS
    in within-genre SDs of that descriptor (``sd_units``) and per year in the parameter's units (dB
    of the mastering shelf), calibrated by :data:`DESCRIPTOR_SD` and :data:`DESCRIPTOR_RESPONSE`."""
    if drift_scale < 0:
        raise ValueError(
            f"dataset.synthetic.drift_scale = {drift_scale}; fix: a number >= 0 (0 = no drift)"
        )
    drifts = {}
    for genre in genres:
        parameter, sign = _PLANTED.get(genre, (None, 0))
        sd_units = DRIFT_SD * drift_scale if parameter else 0.0
        sign = sign if sd_units else 0
        sd = DESCRIPTOR_SD[genre] if parameter else 0.0
        change = sd_units * sd / DESCRIPTOR_RESPONSE[genre] if parameter else 0.0  # across YEARS
        drifts[genre] = {
            "parameter": parameter,
            "sign": sign,
            "descriptor": DESCRIPTOR.get(parameter),
            "sd_units": sd_units,
            "descriptor_sd": sd,
            "descriptor_change": sign * sd_units * sd,
            "units": "shelf gain (dB)" if parameter else "",
            "parameter_change": sign * change,
            "slope_per_year": sign * change / (YEARS[1] - YEARS[0]),
            "reference_year": (YEARS[0] + YEARS[1]) / 2,
            "observable": _DRIFT_OBSERVABLE[parameter],
        }
    return drifts


def _artist_effects(n_artists: int, seed: int) -> list[dict]:
    """Per artist id: a shift of every :data:`ARTIST_SD` parameter, a key root, a scale draw."""
    rng = np.random.default_rng(seed + 13)
    names = sorted(ARTIST_SD)
    shifts = rng.normal(0.0, [ARTIST_SD[k] for k in names], size=(n_artists, len(names)))
    roots = rng.integers(40, 52, n_artists)
    colour = np.exp(rng.uniform(np.log(300.0), np.log(5000.0), n_artists))
    own_scale = rng.random(n_artists) < 0.8
    other = rng.choice(list(_SCALES), n_artists)
    return [
        {
            **dict(zip(names, row.tolist())),
            "root": int(root),
            "own_scale": bool(own),
            "scale": str(alt),
            "colour_hz": float(hz),
        }
        for row, root, own, alt, hz in zip(shifts, roots, own_scale, other, colour)
    ]


def track_parameters(
    genre: str,
    year: int,
    blend: str | None,
    drift: dict,
    rng: np.random.Generator,
    artist: dict | None = None,
) -> dict:
    """Synthesis parameters of one track: the genre centre + the artist's effect (an element of
    :func:`_artist_effects`; None = an artist without one, its key and scale drawn per track) +
    scatter (+ blend) + the year's drift."""
    a = artist or {key: 0.0 for key in ARTIST_SD}
    t = TRACK_SD
    centre = dict(_CENTRES[genre])
    if blend:
        other = _CENTRES[blend]
        for key, value in other.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                centre[key] = 0.75 * centre[key] + 0.25 * value
    p = {
        "tempo": centre["tempo"] * float(np.exp(a["tempo"] + rng.normal(0, t["tempo"]))),
        "kick": float(np.clip(centre["kick"] + a["kick"] + rng.normal(0, t["kick"]), 0, 1)),
        "snare": float(np.clip(centre["snare"] + a["snare"] + rng.normal(0, t["snare"]), 0, 1)),
        "hat": float(np.clip(centre["hat"] + a["hat"] + rng.normal(0, t["hat"]), 0, 1)),
        "bass": float(np.clip(centre["bass"] + a["bass"] + rng.normal(0, t["bass"]), 0, 1)),
        "harmonics": int(
            np.clip(
                round(centre["harmonics"] + a["harmonics"] + rng.normal(0, t["harmonics"])), 1, 16
            )
        ),
        "rolloff": float(
            np.clip(centre["rolloff"] + a["rolloff"] + rng.normal(0, t["rolloff"]), 0.2, 2.5)
        ),
        "bright": float(
            np.clip(centre["bright"] + a["bright"] + rng.normal(0, t["bright"]), 0.05, 0.95)
        ),
        "noise": float(
            np.clip(centre["noise"] * np.exp(a["noise"] + rng.normal(0, t["noise"])), 0.0, 0.6)
        ),
        "dyn": float(np.clip(centre["dyn"] + a["dyn"] + rng.normal(0, t["dyn"]), 0, 0.9)),
        "notes": int(
            np.clip(round(centre["notes"] + a["notes"] + rng.normal(0, t["notes"])), 1, 4)
        ),
        # MIDI note of the key's root (bass octave): mostly the artist's key
        "root": int(
            a["root"] if artist and rng.random() < ARTIST_OWN_KEY else rng.integers(40, 52)
        ),
        "pan": float(rng.uniform(-0.4, 0.4)),
        # the artist's production: a resonance at its own frequency on every track (0 = none)
        "colour_hz": float(artist["colour_hz"]) if artist else 0.0,
    }
    if artist:
        p["scale"] = centre["scale"] if artist["own_scale"] else artist["scale"]
    else:
        p["scale"] = centre["scale"] if rng.random() < 0.8 else str(rng.choice(list(_SCALES)))
    shift = drift["slope_per_year"] * (year - drift["reference_year"])
    p["tilt_db"] = float(shift) if drift["parameter"] == "tilt" else 0.0
    return p


def _midi_hz(note):
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=float) - 69) / 12)


def render(params: dict, seconds: float, seed: int) -> np.ndarray:
    """Render one track's stereo audio [n, 2] in [-1, 1] at 44.1 kHz from its parameters.

    One 4-bar phrase (a whole cycle of the chord progression) is synthesised at :data:`RENDER_RATE`,
    resampled with soxr and repeated to the clip's length, as music repeats: rendering every bar note by
    note made the default dataset three times slower. The loudness swell spans the whole clip.
    """
    import soxr

    rng = np.random.default_rng(seed)
    bar = 4 * 60.0 / params["tempo"]
    phrase = soxr.resample(
        _phrase(params, min(seconds, 4 * bar), rng), RENDER_RATE, SAMPLE_RATE, quality="HQ"
    )
    mix = np.resize(
        phrase.astype(np.float32), int(round(seconds * SAMPLE_RATE))
    )  # repeats cyclically
    t = np.arange(len(mix), dtype=np.float32) / np.float32(SAMPLE_RATE)
    mix *= 1.0 - params["dyn"] * 0.5 * (1 + np.sin(2 * np.pi * t / (8 * bar) + rng.uniform(0, 6)))
    mix *= 0.8 / max(1e-9, np.abs(mix).max())
    return np.stack([mix * (1 - params["pan"]), mix * (1 + params["pan"])], axis=1) / (
        1 + abs(params["pan"])
    )


def _phrase(params: dict, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Mono phrase at :data:`RENDER_RATE`: drums, chords with the genre's timbre, bass, tilted noise."""
    sr = RENDER_RATE
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    beat = 60.0 / params["tempo"]
    mix = np.zeros(n)
    # Drums: kick (pitched-down sine), snare (noise burst), hats (short bright noise) on a 16th grid.
    kick_len, snare_len, hat_len = int(0.12 * sr), int(0.10 * sr), int(0.03 * sr)
    kt = np.arange(kick_len) / sr
    kick = np.sin(2 * np.pi * (50 + 60 * np.exp(-kt * 30)) * kt) * np.exp(-kt * 25)
    snare = rng.standard_normal(snare_len) * np.exp(-np.arange(snare_len) / sr * 30)
    hat = np.diff(rng.standard_normal(hat_len + 1)) * np.exp(-np.arange(hat_len) / sr * 120)
    kick_steps = {0, 8} | ({6, 10} if rng.random() < 0.5 else set())
    for index, start in enumerate(np.arange(0, seconds, beat / 4)):
        s = int(start * sr)
        pos = index % 16
        for hit, level, on in (
            (kick, params["kick"], pos in kick_steps),
            (snare, params["snare"] * 0.6, pos in (4, 12)),
            (hat, params["hat"] * 0.3, pos % 2 == 0),
        ):
            if on and level > 0.02:
                end = min(n, s + len(hit))
                mix[s:end] += level * hit[: end - s]
    # Harmony: a chord progression of the scale, harmonic timbre with a rolloff, and a bass line.
    scale = np.array(_SCALES[params["scale"]])
    bar = 4 * beat
    chord_index = (t // bar).astype(int) % 4
    chord_roots = params["root"] + 12 + scale[np.array([0, 3, 4, 2]) % len(scale)]  # 4 chords
    note_len = beat / params["notes"]
    note_index = (t // note_len).astype(int)
    n_notes = note_index.max() + 1
    note_chord = (np.arange(n_notes) * note_len // bar).astype(int) % 4
    melody_steps = rng.integers(0, len(scale), size=n_notes)
    freq = _midi_hz(chord_roots[note_chord] + 12 + scale[melody_steps])[note_index]
    phase_env = np.exp(-((t % note_len) / note_len) * 3.0)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    # Harmonics by the Chebyshev recurrence sin(k x) = 2 cos(x) sin((k-1) x) - sin((k-2) x):
    # one sin and one cos for the whole stack instead of one sin per harmonic.
    tone = np.zeros(n)
    previous, current, twice_cos = np.zeros(n), np.sin(phase), 2 * np.cos(phase)
    for k in range(1, params["harmonics"] + 1):
        if freq.max() * k > sr / 2 - 500:
            break
        tone += current / k ** params["rolloff"]
        previous, current = current, twice_cos * current - previous
    mix += 0.35 * tone * phase_env
    pad_phase = 2 * np.pi * np.cumsum(_midi_hz(chord_roots)[chord_index]) / sr
    mix += 0.15 * (np.sin(pad_phase) + 0.5 * np.sin(pad_phase * 1.5))
    bass_phase = 2 * np.pi * np.cumsum(_midi_hz(chord_roots - 12)[chord_index]) / sr
    mix += params["bass"] * 0.5 * np.sin(bass_phase) * np.exp(-((t % beat) / beat) * 2.0)
    # Noise with a spectral tilt set by brightness: a one-pole lowpass mixed with its complement.
    noise = rng.standard_normal(n)
    low = _one_pole(noise, 1.0 - params["bright"])
    mix += params["noise"] * (params["bright"] * (noise - low) + (1 - params["bright"]) * low)
    # Brightness also shapes the whole mix (FMA's production varies): a gentle tilt filter.
    mix = params["bright"] * mix + (1 - params["bright"]) * _one_pole(mix, 0.85) * 1.5
    if params.get("colour_hz"):  # the artist's production colour (the "album effect" of MIR)
        from scipy.signal import iirpeak, lfilter

        b, a = iirpeak(params["colour_hz"], Q=3.0, fs=sr)
        mix = mix + COLOUR_GAIN * lfilter(b, a, mix)
    if params.get("tilt_db"):  # the era's mastering: a high shelf above TILT_HZ (planted drifts)
        high = mix - _one_pole(mix, float(np.exp(-2 * np.pi * TILT_HZ / sr)))
        mix = mix + (10.0 ** (params["tilt_db"] / 20.0) - 1.0) * high
    return mix


def _one_pole(x: np.ndarray, alpha: float) -> np.ndarray:
    """y[i] = (1 - alpha) x[i] + alpha y[i-1], via scipy's lfilter (fast, exact)."""
    from scipy.signal import lfilter

    return lfilter([1 - alpha], [1, -alpha], x)


def _write_track(job: tuple) -> None:
    """Worker: render one track (or plant its fault) and write it as MP3."""
    from fmagenre.data.audio import encode_mp3

    path, params, seconds, seed, fault = job
    path = Path(path)
    kind = fault["kind"] if fault else None
    if kind == "missing":  # also when regenerating into a folder that holds an older copy
        path.unlink(missing_ok=True)
        return
    if kind in ("empty", "garbage"):
        # Garbage holds no 0xFF byte, so no MPEG frame sync can appear in it by chance, whatever the seed.
        garbage = np.random.default_rng(seed).integers(0, 255, 4096, dtype=np.uint8).tobytes()
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"" if kind == "empty" else garbage)
        return
    if kind == "silent":
        audio = np.zeros((int(seconds * SAMPLE_RATE), 2))
    else:
        audio = render(params, fault["seconds"] if kind == "short" else seconds, seed)
    encode_mp3(path, audio, SAMPLE_RATE, quality=7)
    if kind == "header_only":  # the first frame's header and a little data: no decodable frame
        data = path.read_bytes()[:300]
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)


def _fmt_list(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _tracks_frame(meta: dict, preset: str, n_tracks: int | None) -> pd.DataFrame:
    """The tracks.csv frame: all 52 real columns, the ones the pipeline reads filled realistically."""
    rng = meta["rng"]
    ids, n = meta["ids"], len(meta["ids"])
    year = meta["year"]
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    released = pd.to_datetime({"year": year, "month": month, "day": day})
    created = released + pd.to_timedelta(rng.integers(0, 60 * 86400, n), unit="s")
    released_str = released.dt.strftime("%Y-%m-%d 00:00:00").to_numpy(dtype=object)
    released_str[rng.random(n) < 0.1] = (
        ""  # some albums lack a release date: year falls back to creation
    )
    created_str = created.dt.strftime("%Y-%m-%d %H:%M:%S")
    if n_tracks is None:
        subset = np.full(n, preset, dtype=object)
    else:  # fma_full-like: nested subsets
        subset = rng.choice(
            np.array(["small", "medium", "large"], dtype=object), n, p=[0.075, 0.16, 0.765]
        )
    artist = meta["artist_of"]
    data = {
        ("album", "comments"): 0,
        ("album", "date_created"): created_str,
        ("album", "date_released"): released_str,
        ("album", "engineer"): "",
        ("album", "favorites"): rng.integers(0, 5, n),
        ("album", "id"): artist * 10 + 1,
        ("album", "information"): "",
        ("album", "listens"): rng.integers(100, 50000, n),
        ("album", "producer"): "",
        ("album", "tags"): "[]",
        ("album", "title"): [f"Album {a}" for a in artist],
        ("album", "tracks"): rng.integers(1, 15, n),
        ("album", "type"): "Album",
        ("artist", "active_year_begin"): "",
        ("artist", "active_year_end"): "",
        ("artist", "associated_labels"): "",
        ("artist", "bio"): "",
        ("artist", "comments"): 0,
        ("artist", "date_created"): created_str,
        ("artist", "favorites"): rng.integers(0, 50, n),
        ("artist", "id"): artist,
        ("artist", "latitude"): "",
        ("artist", "location"): "",
        ("artist", "longitude"): "",
        ("artist", "members"): "",
        ("artist", "name"): [f"Synthetic Artist {a}" for a in artist],
        ("artist", "related_projects"): "",
        ("artist", "tags"): "[]",
        ("artist", "website"): "",
        ("artist", "wikipedia_page"): "",
        ("set", "split"): meta["split"],
        ("set", "subset"): subset,
        ("track", "bit_rate"): 128000,
        ("track", "comments"): 0,
        ("track", "composer"): "",
        ("track", "date_created"): created_str,
        ("track", "date_recorded"): "",
        # The whole track's length from the API, as in FMA (the clip is a 30 s cut of it).
        ("track", "duration"): np.clip(
            np.round(rng.lognormal(np.log(230), 0.4, n)), 31, 900
        ).astype(int),
        ("track", "favorites"): rng.integers(0, 10, n),
        ("track", "genre_top"): meta["genre_top_col"],
        ("track", "genres"): [_fmt_list(g) for g in meta["genres_col"]],
        ("track", "genres_all"): [_fmt_list(g) for g in meta["genres_all_col"]],
        ("track", "information"): "",
        ("track", "interest"): rng.integers(100, 10000, n),
        ("track", "language_code"): "en",
        ("track", "license"): "Attribution",
        ("track", "listens"): rng.integers(50, 20000, n),
        ("track", "lyricist"): "",
        ("track", "number"): rng.integers(1, 12, n),
        ("track", "publisher"): "",
        ("track", "tags"): "[]",
        ("track", "title"): [f"Track {i}" for i in ids],
    }
    frame = pd.DataFrame({key: data[key] for key in COLUMNS}, index=pd.Index(ids, name="track_id"))
    frame.columns = pd.MultiIndex.from_tuples(COLUMNS)
    return frame


def generate(
    metadata_dir,
    audio_dir,
    *,
    preset: str = "small",
    tracks_per_genre: int = 40,
    clip_seconds: float = 30.0,
    seed: int = 0,
    faults: bool = True,
    audio: bool = True,
    n_tracks: int | None = None,
    workers: int | None = None,
    drift_scale: float = 1.0,
    held_out_share: float = 0.15,
) -> dict:
    """Write a synthetic FMA (metadata, audio, ground truth); return the paths written.

    Deterministic: the same arguments give byte-identical files. ``audio=False`` writes the metadata
    alone (DAG-scale benchmarks); ``n_tracks`` sets the total instead of ``tracks_per_genre``.
    ``held_out_share`` is the validation and the test share of each genre (artist-grouped): 0.15
    (70/15/15), not FMA's 10 %, so that the small default test split still measures accuracy to
    +-0.10; ``drift_scale`` multiplies every planted drift (0 = none).
    """
    arguments = {
        "preset": preset,
        "tracks_per_genre": tracks_per_genre,
        "clip_seconds": clip_seconds,
        "seed": seed,
        "faults": faults,
        "audio": audio,
        "n_tracks": n_tracks,
        "drift_scale": drift_scale,
        "held_out_share": held_out_share,
    }
    metadata_dir, audio_dir = Path(metadata_dir), Path(audio_dir)
    counts = genre_counts(preset, tracks_per_genre, n_tracks)
    meta = _metadata(preset, counts, seed, held_out_share)
    drifts = _drifts(meta["genres"], drift_scale)
    effects = _artist_effects(int(meta["artist_of"].max()) + 1, seed)
    # faults live in the audio: metadata-only runs plant none
    fault_rows = _plant_faults(meta["ids"], seed, clip_seconds) if faults and audio else []
    jobs, track_truth = _audio_jobs(
        meta, drifts, effects, audio_dir, clip_seconds, seed, fault_rows, audio
    )
    _render(jobs, audio_dir, workers)
    paths = _write_metadata(metadata_dir, audio_dir, _tracks_frame(meta, preset, n_tracks), meta)
    write_json(
        paths["ground_truth"],
        _ground_truth(arguments, meta["genres"], counts, drifts, fault_rows, track_truth),
    )
    log.info(
        "synthetic FMA: %d tracks, %d genres, %d planted faults -> %s, %s",
        len(meta["ids"]),
        len(counts),
        len(fault_rows),
        metadata_dir,
        audio_dir,
    )
    return paths


def _ground_truth(arguments, genres, counts, drifts, fault_rows, track_truth) -> dict:
    """``ground_truth.json``: the arguments, the genres' planted signatures and drifts, the planted
    faults and every track's synthesis parameters."""
    return {
        "generator": "fmagenre.data.synth",
        "arguments": arguments,
        "sample_rate": SAMPLE_RATE,
        "years": list(YEARS),
        "genres": genres,
        "genre_counts": counts,
        "genre_parameters": {g: _CENTRES[g] for g in genres},
        "drift_sd_units": (
            "sd_units: change across the whole year range in within-genre SDs of the observable "
            "descriptor (descriptor_sd, measured on the default data: track scatter, artist "
            "effects and estimation noise); parameter_change: the same drift in the synthesis "
            "parameter's units (dB of the mastering shelf, tilt_db)"
        ),
        "artist_sd": ARTIST_SD,
        "track_sd": TRACK_SD,
        "drifts": drifts,
        "faults": fault_rows,
        "tracks": track_truth,
    }


def _plant_faults(ids: np.ndarray, seed: int, clip_seconds: float) -> list[dict]:
    """One track per kind of FAULTS, chosen at random; what validation must report for each."""
    chosen = np.random.default_rng(seed + 7).choice(len(ids), size=len(FAULTS), replace=False)
    return [
        {
            "track_id": int(ids[i]),
            "kind": kind,
            "expected_status": status,
            **({"seconds": round(share * clip_seconds, 3)} if share else {}),
        }
        for i, (kind, status, share) in zip(sorted(chosen), FAULTS)
    ]


def _audio_jobs(meta, drifts, effects, audio_dir, clip_seconds, seed, fault_rows, audio):
    """(render jobs, ground-truth rows): every track's synthesis parameters (genre centre, artist
    effect, planted drift at its year, track scatter) and its MP3 path; none when not ``audio``."""
    fault_of = {row["track_id"]: row for row in fault_rows}
    track_truth, jobs = [], []
    param_rng = np.random.default_rng(seed + 11)
    for i, track_id in enumerate(meta["ids"] if audio else []):
        genre = meta["genre_of"][i]
        artist = int(meta["artist_of"][i])
        params = track_parameters(
            genre,
            int(meta["year"][i]),
            meta["blend_with"][i],
            drifts[genre],
            param_rng,
            effects[artist],
        )
        path = Path(audio_dir) / f"{track_id:06d}"[:3] / f"{track_id:06d}.mp3"
        job_seed = seed * 1_000_003 + int(track_id)
        jobs.append((str(path), params, clip_seconds, job_seed, fault_of.get(int(track_id))))
        track_truth.append(
            {
                "track_id": int(track_id),
                "genre": genre,
                "year": int(meta["year"][i]),
                "artist_id": artist,
                "blend_with": meta["blend_with"][i],
                **params,
            }
        )
    return jobs, track_truth


def _render(jobs: list[tuple], audio_dir: Path, workers: int | None) -> None:
    """Render and encode every track (in ``workers`` processes; default: every CPU)."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    if not jobs:
        return
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_write_track, jobs, chunksize=4))
    else:
        for job in jobs:
            _write_track(job)


def _write_metadata(metadata_dir: Path, audio_dir: Path, tracks: pd.DataFrame, meta: dict) -> dict:
    """tracks.csv and genres.csv (FMA's layouts) written atomically; returns every output path."""
    genre_table = meta["genre_table"]
    all_ids = [g for row in meta["genres_all_col"] for g in row]
    genre_table["#tracks"] = (
        genre_table["genre_id"].map(pd.Series(all_ids).value_counts()).fillna(0).astype(int)
    )
    metadata_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "tracks": metadata_dir / "tracks.csv",
        "genres": metadata_dir / "genres.csv",
        "ground_truth": metadata_dir / "ground_truth.json",
        "metadata_dir": metadata_dir,
        "audio_dir": audio_dir,
    }
    with atomic_path(paths["tracks"]) as tmp:
        tracks.to_csv(tmp)
    with atomic_path(paths["genres"]) as tmp:
        genre_table.to_csv(tmp, index=False)
    return paths


def main(argv=None) -> None:
    from fmagenre.config import synthetic_defaults

    defaults = synthetic_defaults()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metadata-dir", required=True)
    parser.add_argument("--audio-dir", required=True)
    parser.add_argument("--preset", choices=["small", "medium"], default=defaults["preset"])
    parser.add_argument("--tracks-per-genre", type=int, default=defaults["tracks_per_genre"])
    parser.add_argument("--clip-seconds", type=float, default=defaults["clip_seconds"])
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument("--no-audio", dest="audio", action="store_false")
    parser.add_argument("--n-tracks", type=int, default=defaults["n_tracks"])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--drift-scale", type=float, default=defaults["drift_scale"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    generate(
        args.metadata_dir,
        args.audio_dir,
        preset=args.preset,
        tracks_per_genre=args.tracks_per_genre,
        clip_seconds=args.clip_seconds,
        seed=args.seed,
        faults=args.faults,
        audio=args.audio,
        n_tracks=args.n_tracks,
        workers=args.workers,
        drift_scale=args.drift_scale,
    )


if __name__ == "__main__":
    main()
